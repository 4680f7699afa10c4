"""A DynamoDB table from one table entry: keys, GSIs, TTL, PITR, encryption, protection."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb, aws_iam as iam
from constructs import Construct

from ..config.model import GsiSpec, KeyAttribute, TableSpec

_TYPES = {"S": dynamodb.AttributeType.STRING, "N": dynamodb.AttributeType.NUMBER, "B": dynamodb.AttributeType.BINARY}
READ_ACTIONS = (
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DescribeTable",
)
WRITE_ACTIONS = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem")
# One action per low-level client call (get_item -> GET, ...), for ``TradaiTable.grant``.
GET, PUT, UPDATE, DELETE = "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"
QUERY, SCAN = "dynamodb:Query", "dynamodb:Scan"
INDEX_ACTIONS = (QUERY, SCAN)  # the only item actions an index ARN authorizes
_PROJECTIONS = {
    "ALL": dynamodb.ProjectionType.ALL,
    "INCLUDE": dynamodb.ProjectionType.INCLUDE,
    "KEYS_ONLY": dynamodb.ProjectionType.KEYS_ONLY,
}


def _attribute(key: KeyAttribute | None) -> dynamodb.Attribute | None:
    return dynamodb.Attribute(name=key.name, type=_TYPES[key.type]) if key else None


class TradaiTable(Construct):
    """On-demand, SSE-encrypted table; consumers get access only through ``grant`` (exactly the calls they make)
    or, for containers whose code is not in this repo, ``grant_read`` / ``grant_read_write``."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        table_name: str,
        spec: TableSpec,
        deletion_protection: bool,
        removal_policy: cdk.RemovalPolicy,
    ):
        super().__init__(scope, construct_id)
        self.spec = spec
        self._name = table_name
        self.table_arn = cdk.Stack.of(self).format_arn(service="dynamodb", resource="table", resource_name=table_name)
        self.table = dynamodb.Table(
            self,
            "Table",
            table_name=table_name,
            partition_key=_attribute(spec.partition_key),
            sort_key=_attribute(spec.sort_key),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=spec.point_in_time_recovery
            ),
            time_to_live_attribute=spec.ttl_attribute,
            deletion_protection=deletion_protection,
            removal_policy=removal_policy,
        )
        for gsi in spec.gsis:
            self._add_gsi(gsi)

    def _add_gsi(self, gsi: GsiSpec) -> None:
        self.table.add_global_secondary_index(
            index_name=gsi.name,
            partition_key=_attribute(gsi.partition_key),
            sort_key=_attribute(gsi.sort_key),
            projection_type=_PROJECTIONS[gsi.projection],
            non_key_attributes=list(gsi.non_key_attributes) or None,
        )

    @property
    def table_name(self) -> str:
        """The physical name as a plain string: consumers in other stacks need no cross-stack reference."""
        return self._name

    def _arns(self) -> list[str]:
        """The table and each of its indexes by name: no index wildcard."""
        return [self.table_arn] + [f"{self.table_arn}/index/{gsi.name}" for gsi in self.spec.gsis]

    def grant(self, grantee: iam.IGrantable, actions: Sequence[str], indexes: Sequence[str] = ()) -> iam.Grant:
        """Exactly ``actions`` (the DynamoDB calls the grantee makes) on the table, or, with ``indexes``, on
        those indexes only (Query/Scan: an index ARN authorizes nothing else)."""
        unknown = [action for action in actions if action not in READ_ACTIONS + WRITE_ACTIONS]
        if not actions or unknown:
            raise ValueError(f"actions={list(actions)}: allowed: {', '.join(READ_ACTIONS + WRITE_ACTIONS)}")
        if not indexes:
            return iam.Grant.add_to_principal(grantee=grantee, actions=list(actions), resource_arns=[self.table_arn])
        names = [gsi.name for gsi in self.spec.gsis]
        if any(index not in names for index in indexes):
            raise ValueError(f"indexes={list(indexes)}: {self._name} has {', '.join(names) or 'no indexes'}")
        if any(action not in INDEX_ACTIONS for action in actions):
            raise ValueError(f"actions={list(actions)}: only {', '.join(INDEX_ACTIONS)} apply to an index")
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=list(actions),
            resource_arns=[f"{self.table_arn}/index/{index}" for index in indexes],
        )

    def grant_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """Get/Query/Scan on the table and its indexes."""
        return iam.Grant.add_to_principal(grantee=grantee, actions=list(READ_ACTIONS), resource_arns=self._arns())

    def grant_write(self, grantee: iam.IGrantable) -> iam.Grant:
        """Put/Update/Delete items (no index access: indexes are read-only)."""
        return iam.Grant.add_to_principal(grantee=grantee, actions=list(WRITE_ACTIONS), resource_arns=[self.table_arn])

    def grant_read_write(self, grantee: iam.IGrantable) -> None:
        self.grant_read(grantee)
        self.grant_write(grantee)
