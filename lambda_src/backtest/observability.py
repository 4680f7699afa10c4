"""The backtest functions' Powertools logger, metrics and tracer (one instance each, shared by the modules)."""

from aws_lambda_powertools import Logger, Metrics, Tracer

from shared.tracing import PATCHED_MODULES

from . import contract

logger = Logger(service=contract.SERVICE)
metrics = Metrics(namespace=contract.METRICS_NAMESPACE, service=contract.SERVICE)
tracer = Tracer(service=contract.SERVICE, patch_modules=PATCHED_MODULES)

# Metric names (namespace contract.METRICS_NAMESPACE, dimension service=backtest).
METRIC_SUBMITTED = "BacktestSubmitted"
METRIC_LAUNCH_FAILED = "BacktestLaunchFailed"
METRIC_INVALID_REQUEST = contract.INVALID_REQUEST_ERROR  # "InvalidBacktestRequest"
METRIC_ORPHANED_RUNS = "OrphanedRuns"
METRIC_ORPHANED_TASKS = "OrphanedTasks"
