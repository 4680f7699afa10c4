"""The function's Powertools logger, metrics and tracer (one instance each, shared by its modules)."""

from aws_lambda_powertools import Logger, Metrics, Tracer

from shared.tracing import PATCHED_MODULES

from . import contract

logger = Logger(service=contract.SERVICE)
metrics = Metrics(namespace=contract.METRICS_NAMESPACE, service=contract.SERVICE)
tracer = Tracer(service=contract.SERVICE, patch_modules=PATCHED_MODULES)
