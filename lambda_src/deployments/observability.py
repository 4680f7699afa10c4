"""The deployer's Powertools logger, metrics and tracer (one instance each, shared by the modules)."""

from aws_lambda_powertools import Logger, Metrics, Tracer

from shared.tracing import PATCHED_MODULES

from . import contract

logger = Logger(service=contract.SERVICE)
metrics = Metrics(namespace=contract.METRICS_NAMESPACE, service=contract.SERVICE)
tracer = Tracer(service=contract.SERVICE, patch_modules=PATCHED_MODULES)

# Metric names (namespace contract.METRICS_NAMESPACE, dimension service=strategy-deployments).
METRIC_STARTED = "DeploymentStarted"  # prepare claimed a slot for a new deployment
METRIC_SUCCEEDED = "DeploymentSucceeded"  # activate: the new task is live in Cloud Map
METRIC_FAILED = "DeploymentFailed"  # abort recorded a deployment FAILED
METRIC_REFUSED = "DeploymentRefused"  # a step raised one of contract.REFUSALS
METRIC_INVALID_EVENT = "InvalidDeploymentEvent"  # a step got a malformed event (ValueError)
METRIC_RETIRED = "DeploymentRetired"  # a running task was retired (promote's dry-run, rollback's live)
