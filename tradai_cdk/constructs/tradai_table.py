"""A DynamoDB table from one table entry: keys, GSIs, TTL, PITR, encryption, protection."""

from __future__ import annotations

from typing import Optional

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb, aws_iam as iam
from constructs import Construct

from ..config.model import GsiSpec, KeyAttribute, TableSpec

_TYPES = {"S": dynamodb.AttributeType.STRING, "N": dynamodb.AttributeType.NUMBER,
          "B": dynamodb.AttributeType.BINARY}
_PROJECTIONS = {"ALL": dynamodb.ProjectionType.ALL, "INCLUDE": dynamodb.ProjectionType.INCLUDE,
                "KEYS_ONLY": dynamodb.ProjectionType.KEYS_ONLY}


def _attribute(key: Optional[KeyAttribute]) -> Optional[dynamodb.Attribute]:
    return dynamodb.Attribute(name=key.name, type=_TYPES[key.type]) if key else None


class TradaiTable(Construct):
    """On-demand, SSE-encrypted table; consumers get access only through the ``grant_*`` methods."""

    def __init__(self, scope: Construct, construct_id: str, *, table_name: str, spec: TableSpec,
                 deletion_protection: bool, removal_policy: cdk.RemovalPolicy):
        super().__init__(scope, construct_id)
        self.spec = spec
        self.table = dynamodb.Table(
            self, "Table", table_name=table_name,
            partition_key=_attribute(spec.partition_key), sort_key=_attribute(spec.sort_key),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=spec.point_in_time_recovery),
            time_to_live_attribute=spec.ttl_attribute,
            deletion_protection=deletion_protection, removal_policy=removal_policy)
        for gsi in spec.gsis:
            self._add_gsi(gsi)

    def _add_gsi(self, gsi: GsiSpec) -> None:
        self.table.add_global_secondary_index(
            index_name=gsi.name, partition_key=_attribute(gsi.partition_key), sort_key=_attribute(gsi.sort_key),
            projection_type=_PROJECTIONS[gsi.projection],
            non_key_attributes=list(gsi.non_key_attributes) or None)

    @property
    def table_name(self) -> str:
        return self.table.table_name

    @property
    def table_arn(self) -> str:
        return self.table.table_arn

    def grant_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """GetItem/Query/Scan on the table and its indexes."""
        return self.table.grant_read_data(grantee)

    def grant_write(self, grantee: iam.IGrantable) -> iam.Grant:
        """PutItem/UpdateItem/DeleteItem/BatchWrite."""
        return self.table.grant_write_data(grantee)

    def grant_read_write(self, grantee: iam.IGrantable) -> iam.Grant:
        return self.table.grant_read_write_data(grantee)
