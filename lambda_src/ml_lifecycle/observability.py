"""The ML lifecycle functions' Powertools logger, metrics and tracer (one instance each, shared by the modules).

Namespace contract.METRICS_NAMESPACE ("TradAI/Models"), service contract.SERVICE ("ml-lifecycle").
"""

from aws_lambda_powertools import Logger, Metrics, Tracer

from shared.tracing import PATCHED_MODULES

from . import contract

logger = Logger(service=contract.SERVICE)
metrics = Metrics(namespace=contract.METRICS_NAMESPACE, service=contract.SERVICE)
tracer = Tracer(service=contract.SERVICE, patch_modules=PATCHED_MODULES)

# Metric names of the drift monitor (dimension service; ModelDataDrift also model_name).
METRIC_MODELS_DRIFTED = contract.METRIC_MODELS_DRIFTED  # "ModelsDrifted": models drifted in one check
METRIC_MODEL_DATA_DRIFT = "ModelDataDrift"  # per model: its max feature PSI
