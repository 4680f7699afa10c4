"""``AWS::CloudTrail::Trail`` (patch 38), in moto's CloudTrail backend as CreateTrail keeps it, then logging
(``IsLogging``) and its event and insight selectors, as CloudFormation applies them."""

from __future__ import annotations

from typing import Any

from moto.cloudtrail.exceptions import InvalidParameterCombinationException
from moto.cloudtrail.models import cloudtrail_backends

from .base import AddedResource


def _flag(properties: dict, key: str, default: bool = False) -> bool:
    return str(properties.get(key, default)).lower() == "true"


class Trail(AddedResource):
    """``Ref`` is the trail's name; the S3 bucket (and SNS topic, if named) must exist, as CreateTrail demands."""

    TYPE = "AWS::CloudTrail::Trail"
    NAME_PROPERTY = "TrailName"
    ATTRIBUTES = ("Arn", "SnsTopicArn")

    @classmethod
    def create(cls, name: str, properties: dict, account_id: str, region_name: str) -> Trail:
        backend = cloudtrail_backends[account_id][region_name]
        is_global = _flag(properties, "IncludeGlobalServiceEvents", True)
        is_multi_region = _flag(properties, "IsMultiRegionTrail")
        if is_multi_region and not is_global:
            raise InvalidParameterCombinationException("Multi-Region trail must include global service events.")
        optional: dict[str, Any] = {
            key: properties.get(key)
            for key in ("S3KeyPrefix", "SnsTopicName", "CloudWatchLogsLogGroupArn", "CloudWatchLogsRoleArn", "KmsKeyId")
        }
        trail = backend.create_trail(
            name,
            properties["S3BucketName"],
            optional["S3KeyPrefix"],
            optional["SnsTopicName"],
            is_global,
            is_multi_region,
            _flag(properties, "EnableLogFileValidation"),
            _flag(properties, "IsOrganizationTrail"),
            optional["CloudWatchLogsLogGroupArn"],
            optional["CloudWatchLogsRoleArn"],
            optional["KmsKeyId"],
            properties.get("Tags", []),
        )
        if _flag(properties, "IsLogging"):
            trail.start_logging()
        selectors, advanced = properties.get("EventSelectors", []), properties.get("AdvancedEventSelectors", [])
        if selectors or advanced:
            trail.put_event_selectors(selectors, advanced)
        trail.put_insight_selectors(properties.get("InsightSelectors", []))
        attributes = {"Arn": trail.arn, **({"SnsTopicArn": trail.topic_arn} if trail.topic_arn else {})}
        return cls(name, attributes, lambda: backend.delete_trail(name))


MODELS = (Trail,)
