"""``AWS::CloudFormation::WaitConditionHandle`` (patch 22): the consumer stacks' ``ProducerOutputs`` handle (its
metadata fingerprints the producer outputs: tradai_cdk/constructs/reference_refresh.py); ``Ref`` is a pre-signed
URL, as CloudFormation answers. moto
listed the type as a null model (never created), so the patch takes it off that list."""

from __future__ import annotations

from moto.cloudformation import parsing

from .base import AddedResource


class WaitConditionHandle(AddedResource):
    TYPE = "AWS::CloudFormation::WaitConditionHandle"

    @classmethod
    def create(cls, name: str, properties: dict, account_id: str, region_name: str) -> WaitConditionHandle:
        return cls(f"https://cloudformation-waitcondition-{region_name}.s3.amazonaws.com/{account_id}/{name}")


MODELS = (WaitConditionHandle,)

PATCHES = ((parsing, "NULL_MODELS", [t for t in parsing.NULL_MODELS if t != WaitConditionHandle.TYPE]),)
