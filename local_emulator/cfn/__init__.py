"""The harness's patches 15-38 (listed in ``local_emulator/patches.py``): CloudFormation support, through
moto 5.2.5's own backends, for types its CloudFormation ignores and properties it drops.

Each module holds one service family: ``MODELS`` (``AddedResource`` types, gathered in ``ADDED_TYPES``)
and/or ``PATCHES`` ((owner, attribute, replacement), gathered in ``PATCHES``), both installed by
``patches.apply()``.
"""

from __future__ import annotations

from moto.core.common_models import CloudFormationModel

from . import apigateway, awslambda, cloudformation, cloudtrail, cloudwatch, cognito, ec2, ecs, kept, policies, wafv2
from .base import AddedResource

ADDED_TYPES: dict[str, type[CloudFormationModel]] = {
    model.TYPE: model
    for module in (apigateway, awslambda, cloudformation, cloudtrail, cloudwatch, cognito, ec2, ecs, policies, wafv2)
    for model in module.MODELS
}

PATCHES = kept.PATCHES + cloudformation.PATCHES + ec2.PATCHES + ecs.PATCHES + apigateway.PATCHES + policies.PATCHES

__all__ = ["ADDED_TYPES", "PATCHES", "AddedResource"]
