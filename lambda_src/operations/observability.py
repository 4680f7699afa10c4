"""The operations functions' Powertools logger, metrics and tracer (one instance each, shared by the modules)."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from shared.tracing import PATCHED_MODULES

from . import contract

logger = Logger(service=contract.SERVICE)
metrics = Metrics(namespace=contract.METRICS_NAMESPACE, service=contract.SERVICE)
tracer = Tracer(service=contract.SERVICE, patch_modules=PATCHED_MODULES)


def emit(name: str, unit: MetricUnit, value: float, dimension: str, dimension_value: str) -> None:
    """One metric with its own dimension (plus service=operations), printed now as its own EMF document."""
    with single_metric(
        name=name,
        unit=unit,
        value=value,
        namespace=contract.METRICS_NAMESPACE,
        default_dimensions={"service": contract.SERVICE},
    ) as metric:
        metric.add_dimension(name=dimension, value=dimension_value)
