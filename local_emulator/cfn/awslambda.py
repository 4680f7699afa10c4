"""``AWS::Lambda::EventInvokeConfig`` (patch 17): the function's asynchronous invocation settings."""

from __future__ import annotations

from moto.awslambda.models import lambda_backends

from .base import AddedResource

SETTINGS = ("MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig")


class EventInvokeConfig(AddedResource):
    TYPE = "AWS::Lambda::EventInvokeConfig"

    @classmethod
    def create(cls, name: str, properties: dict, account_id: str, region_name: str) -> EventInvokeConfig:
        backend = lambda_backends[account_id][region_name]
        function = properties["FunctionName"]
        config = {key: properties[key] for key in SETTINGS if key in properties}
        for key in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds"):
            if key in config:
                config[key] = int(config[key])
        backend.put_function_event_invoke_config(function, config)
        return cls(f"{function}:{properties.get('Qualifier', '$LATEST')}", undo=lambda: _delete(backend, function))


def _delete(backend, function: str) -> None:
    if function in {fn.function_name for fn in backend.list_functions()}:
        backend.delete_function_event_invoke_config(function)


MODELS = (EventInvokeConfig,)
