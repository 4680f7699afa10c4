"""Persistent tier: DynamoDB tables, S3 buckets, the PostgreSQL instance and its log groups, the secrets,
the Cognito user pool and its client.

Secrets are built by harness patch 11, Cognito by patch 24; the master secret's target attachment is not
built by moto's CloudFormation (its row says so).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from botocore.exceptions import ClientError

from tradai_cdk.config.model import BucketSpec, KeyAttribute, SubnetTier

from .foundation import deployed_subnets
from .model import CheckContext, Findings, StackView, named, optional

FOUNDATION = "Foundation"
BILLING_MODE = "PAY_PER_REQUEST"  # spec 3.2: every table on demand and encrypted
SSE_S3 = "AES256"  # spec 3.1: every bucket SSE-S3
PUBLIC_ACCESS_FLAGS = ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")
GLACIER = "GLACIER"
# What the persistent stack builds around the config: tradai-db-<env> with its log exports, the logs bucket.
DB = "db"
ENGINE = "postgres"
RDS_LOG_EXPORTS = ("postgresql", "upgrade")
LOGS_BUCKET = "logs"
# Spec 8's secrets are tradai/<env>/<name>; the stack adds the database's generated master secret.
MASTER_SECRET, MASTER_USER, DATABASE_URL_SECRET = "database-master", "tradai_admin", "database-url"


def check(view: StackView, ctx: CheckContext, findings: Findings) -> None:
    """Compare the Persistent stack with ``cfg.tables``, ``cfg.buckets``, ``cfg.rds`` and the profile."""
    _tables(view, ctx, findings)
    _buckets(view, ctx, findings)
    _database(view, ctx, findings)
    _secrets(view, ctx, findings)
    _cognito(view, ctx, findings)
    identifier = ctx.cfg.naming.name(DB)
    check_log_groups(view, ctx, findings, [f"/aws/rds/instance/{identifier}/{kind}" for kind in RDS_LOG_EXPORTS])


def tier_subnet_ids(ctx: CheckContext, tier: SubnetTier) -> list[str]:
    """Sorted ids of the Foundation stack's subnets of ``tier``."""
    subnets = deployed_subnets(ctx.views[FOUNDATION], ctx.client("ec2"), ctx.cfg)
    return sorted(subnets[s.name]["SubnetId"] for s in ctx.cfg.network.subnets_of(tier) if s.name in subnets)


def check_log_groups(view: StackView, ctx: CheckContext, findings: Findings, names: Iterable[str]) -> None:
    """Each named log group exists with the profile's retention, encrypted with its stack's log key."""
    client = ctx.client("logs")
    for name, resource in named(view, findings, "AWS::Logs::LogGroup", "LogGroupName", names).items():
        groups = client.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
        group: dict[str, Any] = next((g for g in groups if g["logGroupName"] == name), {})
        findings.expect(
            resource.logical_id, "retention days", ctx.cfg.profile.log_retention_days, group.get("retentionInDays")
        )
        findings.expect(resource.logical_id, "KMS key", log_key_arn(view, ctx), group.get("kmsKeyId"))


def check_log_group(view: StackView, ctx: CheckContext, findings: Findings, name: str) -> None:
    """A log group of the stack, found by its deployed name (a template name may be a token), with the
    environment's retention and the stack's log key."""
    row = next((r for r in view.of_type("AWS::Logs::LogGroup") if r.physical_id == name), None)
    groups = ctx.client("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    group = next((g for g in groups if g["logGroupName"] == name), None)
    if row is None or group is None:
        findings.missing(f"log group {name}")
        return
    findings.expect(
        row.logical_id, f"{name} retention days", ctx.cfg.profile.log_retention_days, group.get("retentionInDays")
    )
    findings.expect(row.logical_id, f"{name} KMS key", log_key_arn(view, ctx), group.get("kmsKeyId"))


def log_key_arn(view: StackView, ctx: CheckContext) -> str:
    """The ARN of the key behind the stack's log alias ``alias/<stack name>-logs`` (or what is missing)."""
    alias = f"alias/{view.stack_name}-logs"
    try:
        return ctx.client("kms").describe_key(KeyId=alias)["KeyMetadata"]["Arn"]
    except ClientError as exc:
        return f"{alias}: {exc.response['Error']['Code']}"


def key_text(partition: KeyAttribute, sort: KeyAttribute | None = None) -> str:
    """``run_id:S`` or ``strategy_name:S + deployment_id:S``."""
    return " + ".join(f"{key.name}:{key.type}" for key in (partition, sort) if key)


def described_key_text(key_schema: list[dict], types: dict[str, str]) -> str:
    """``key_text`` of a DescribeTable KeySchema, HASH first; ``types`` from its AttributeDefinitions."""
    ordered = sorted(key_schema, key=lambda k: k["KeyType"] != "HASH")
    # An attribute without a definition reads "<name>:None", as the template's would.
    return key_text(*[KeyAttribute(k["AttributeName"], str(types.get(k["AttributeName"]))) for k in ordered])


def index_text(keys: str, projection: str, non_key: Iterable[str] = ()) -> str:
    """``trace_id:S INCLUDE job_id,status``: a GSI's keys and projection."""
    return " ".join([keys, projection] + ([",".join(sorted(non_key))] if non_key else []))


def lifecycle_rules(rules: list[dict]) -> list[str]:
    """Enabled lifecycle rules as ``GLACIER after 30 d`` / ``expire after 90 d``, in the template's
    spelling (``TransitionInDays``, ``ExpirationInDays``) or the API's (``Days``, ``Expiration``)."""
    found = []
    for rule in rules:
        if rule.get("Status") != "Enabled":
            continue
        found += [
            _transition(t["StorageClass"], t.get("TransitionInDays", t.get("Days")))
            for t in rule.get("Transitions", [])
        ]
        days = rule.get("ExpirationInDays", rule.get("Expiration", {}).get("Days"))
        if days:
            found.append(_expiry(days))
    return sorted(found)


def expected_lifecycle(spec: BucketSpec) -> list[str]:
    """``lifecycle_rules`` a bucket entry asks for."""
    return sorted(
        ([_transition(GLACIER, spec.glacier_after_days)] if spec.glacier_after_days else [])
        + ([_expiry(spec.expire_after_days)] if spec.expire_after_days else [])
    )


def blocks_all_public_access(config: dict | None) -> bool | None:
    """Whether a public access block sets all four flags; None if there is none."""
    return None if config is None else all(config.get(flag) is True for flag in PUBLIC_ACCESS_FLAGS)


def _tables(view, ctx, findings) -> None:
    cfg, dynamodb = ctx.cfg, ctx.client("dynamodb")
    specs = {cfg.naming.name(spec.key): spec for spec in cfg.tables}
    for name, resource in named(view, findings, "AWS::DynamoDB::Table", "TableName", specs).items():
        spec, lid = specs[name], resource.logical_id
        table = dynamodb.describe_table(TableName=name)["Table"]
        types = {d["AttributeName"]: d["AttributeType"] for d in table["AttributeDefinitions"]}
        findings.expect(
            lid, "keys", key_text(spec.partition_key, spec.sort_key), described_key_text(table["KeySchema"], types)
        )
        findings.expect(
            lid,
            "GSIs",
            {
                g.name: index_text(key_text(g.partition_key, g.sort_key), g.projection, g.non_key_attributes)
                for g in spec.gsis
            },
            _described_indexes(table, types),
        )
        findings.expect(lid, "billing", BILLING_MODE, table.get("BillingModeSummary", {}).get("BillingMode"))
        findings.expect(
            lid, "deletion protection", cfg.profile.deletion_protection, table.get("DeletionProtectionEnabled")
        )
        # moto keeps SSE, TTL and PITR through patch 18.
        findings.expect(lid, "SSE", "ENABLED", table.get("SSEDescription", {}).get("Status"))
        ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        findings.expect(
            lid,
            "TTL attribute",
            spec.ttl_attribute,
            ttl.get("AttributeName") if ttl.get("TimeToLiveStatus") == "ENABLED" else None,
        )
        backups = dynamodb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
        pitr = backups.get("PointInTimeRecoveryDescription", {}).get("PointInTimeRecoveryStatus")
        findings.expect(lid, "point-in-time recovery", spec.point_in_time_recovery, pitr == "ENABLED")


def _buckets(view, ctx, findings) -> None:
    cfg, s3 = ctx.cfg, ctx.client("s3")
    specs = {cfg.naming.name(spec.component): spec for spec in cfg.buckets}
    logs_bucket = cfg.naming.name(LOGS_BUCKET)
    for name, resource in named(view, findings, "AWS::S3::Bucket", "BucketName", specs).items():
        spec, lid = specs[name], resource.logical_id
        encryption = optional(s3.get_bucket_encryption, "ServerSideEncryptionConfigurationNotFoundError", Bucket=name)
        rules = (encryption or {}).get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
        findings.expect(
            lid, "encryption", [SSE_S3], [r["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] for r in rules]
        )
        # Public access block, versioning, lifecycle and access logging are kept through patch 30.
        block = optional(s3.get_public_access_block, "NoSuchPublicAccessBlockConfiguration", Bucket=name)
        findings.expect(
            lid,
            "blocks all public access",
            True,
            blocks_all_public_access(block and block["PublicAccessBlockConfiguration"]),
        )
        findings.expect(
            lid,
            "versioning",
            "Enabled" if spec.versioned else None,
            s3.get_bucket_versioning(Bucket=name).get("Status"),
        )
        lifecycle = optional(s3.get_bucket_lifecycle_configuration, "NoSuchLifecycleConfiguration", Bucket=name)
        findings.expect(
            lid, "lifecycle", expected_lifecycle(spec), lifecycle_rules(lifecycle["Rules"]) if lifecycle else []
        )
        findings.expect(
            lid,
            "server access logs to",
            None if name == logs_bucket else logs_bucket,
            s3.get_bucket_logging(Bucket=name).get("LoggingEnabled", {}).get("TargetBucket"),
        )


def _database(view, ctx, findings) -> None:
    cfg, spec, rds = ctx.cfg, ctx.cfg.rds, ctx.client("rds")
    database_subnets = tier_subnet_ids(ctx, SubnetTier.DATABASE)
    identifier = cfg.naming.name(DB)
    for resource in named(view, findings, "AWS::RDS::DBInstance", "DBInstanceIdentifier", [identifier]).values():
        lid = resource.logical_id
        db = rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"][0]
        findings.matches(
            lid,
            "settings",
            {
                "Engine": ENGINE,
                "EngineVersion": spec.engine_version,
                "DBInstanceClass": spec.instance_class,
                "AllocatedStorage": spec.allocated_storage_gib,
                "StorageType": spec.storage_type,
                "StorageEncrypted": True,
                "MultiAZ": spec.multi_az,
                "BackupRetentionPeriod": spec.backup_retention_days,
                "PubliclyAccessible": spec.publicly_accessible,
                "DBName": spec.database_name,
                "DeletionProtection": cfg.profile.deletion_protection,
            },
            db,
        )
        findings.expect(lid, "port", spec.port, db["Endpoint"]["Port"])
        findings.expect(lid, "database subnets", database_subnets, _subnet_ids(db["DBSubnetGroup"]))
        findings.expect(
            lid,
            "parameter groups",
            [view.resolve(resource.properties.get("DBParameterGroupName"))],
            [g["DBParameterGroupName"] for g in db["DBParameterGroups"]],
        )
        # EnableCloudwatchLogsExports is kept through patch 34.
        findings.applied(
            lid,
            "log exports",
            list(RDS_LOG_EXPORTS),
            db.get("EnabledCloudwatchLogsExports"),
            resource.properties.get("EnableCloudwatchLogsExports"),
            unset=[],
        )
    for group in view.of_type("AWS::RDS::DBSubnetGroup"):
        described = rds.describe_db_subnet_groups(DBSubnetGroupName=group.properties.get("DBSubnetGroupName"))[
            "DBSubnetGroups"
        ][0]
        findings.expect(group.logical_id, "database subnets", database_subnets, _subnet_ids(described))
    for group in view.of_type("AWS::RDS::DBParameterGroup"):
        described = rds.describe_db_parameter_groups(DBParameterGroupName=group.physical_id)["DBParameterGroups"][0]
        findings.expect(
            group.logical_id,
            "family",
            f"{ENGINE}{spec.engine_version.split('.')[0]}",
            described["DBParameterGroupFamily"],
        )
        parameters = {
            p["ParameterName"]: p.get("ParameterValue")
            for p in rds.describe_db_parameters(DBParameterGroupName=group.physical_id, Source="user")["Parameters"]
        }
        findings.expect(
            group.logical_id, "rds.force_ssl", "1" if spec.force_ssl else "0", parameters.get("rds.force_ssl")
        )


def _secrets(view, ctx, findings) -> None:
    """Each secret of spec 8 (and the master secret) exists under its name with its description and a value;
    the master secret holds the master user, the database URL is resolved from it (no dynamic reference left)."""
    client = ctx.client("secretsmanager")
    descriptions = {
        ctx.cfg.naming.secret(spec.short): f"{spec.contents} (rotation: {spec.rotation})" for spec in ctx.cfg.secrets
    }
    master_name, url_name = ctx.cfg.naming.secret(MASTER_SECRET), ctx.cfg.naming.secret(DATABASE_URL_SECRET)
    values = {}
    for name, resource in named(
        view, findings, "AWS::SecretsManager::Secret", "Name", [master_name, *descriptions]
    ).items():
        lid = resource.logical_id
        described = optional(client.describe_secret, "ResourceNotFoundException", SecretId=name)
        if not findings.holds(lid, f"secret {name} exists", described is not None, "not in Secrets Manager"):
            continue
        assert described is not None  # held just above
        findings.expect(lid, "ARN", resource.physical_id, described["ARN"])
        if name in descriptions:
            findings.expect(lid, "description", descriptions[name], described.get("Description"))
        values[name] = client.get_secret_value(SecretId=name).get("SecretString") or ""
        findings.holds(lid, "a current value", bool(values[name]), "none")
    master = declared_id(view, "AWS::SecretsManager::Secret", master_name)
    if master_name in values:
        username = json.loads(values[master_name]).get("username")
        findings.expect(master, "master user", MASTER_USER, username)
    if url_name in values and master_name in values:
        url, credentials = values[url_name], json.loads(values[master_name])
        findings.holds(
            declared_id(view, "AWS::SecretsManager::Secret", url_name),
            "database URL resolved from the master secret",
            url.startswith(f"postgresql://{credentials['username']}:{credentials['password']}@"),
            url.split("@")[0].split(":")[0] + "://... (unresolved or different credentials)",
        )


def declared_id(view: StackView, resource_type: str, name: str, name_property: str = "Name") -> str | None:
    """The logical id of the template resource of that type and name."""
    return next((r.logical_id for r in view.declared(resource_type) if r.properties.get(name_property) == name), None)


def _described_indexes(table: dict, types: dict[str, str]) -> dict[str, str]:
    return {
        g["IndexName"]: index_text(
            described_key_text(g["KeySchema"], types),
            g["Projection"]["ProjectionType"],
            g["Projection"].get("NonKeyAttributes", ()),
        )
        for g in table.get("GlobalSecondaryIndexes", [])
    }


def _subnet_ids(group: dict) -> list[str]:
    return sorted(s["SubnetIdentifier"] for s in group["Subnets"])


def _transition(storage_class: str, days: int) -> str:
    return f"{storage_class} after {days} d"


def _expiry(days: int) -> str:
    return f"expire after {days} d"


MFA = {"REQUIRED": "ON", "OPTIONAL": "OPTIONAL", "OFF": "OFF"}  # config -> Cognito's MfaConfiguration
RECOVERY = {"EMAIL_ONLY": ["verified_email"], "PHONE_ONLY": ["verified_phone_number"]}


def _cognito(view, ctx, findings) -> None:
    """The user pool of ``cfg.cognito`` (MFA, TOTP, password policy, account recovery) and its app client."""
    spec, cognito = ctx.cfg.cognito, ctx.client("cognito-idp")
    for resource in view.of_type("AWS::Cognito::UserPool"):
        pool = cognito.describe_user_pool(UserPoolId=resource.physical_id)["UserPool"]
        lid = resource.logical_id
        findings.expect(
            lid, "name, MFA", (spec.user_pool_name, MFA[spec.mfa]), (pool["Name"], pool["MfaConfiguration"])
        )
        totp = cognito.get_user_pool_mfa_config(UserPoolId=resource.physical_id).get(
            "SoftwareTokenMfaConfiguration", {}
        )
        findings.expect(lid, "TOTP", "TOTP" in spec.mfa_types, totp.get("Enabled", False))
        findings.matches(
            lid,
            "password policy",
            {
                "MinimumLength": spec.password_min_length,
                "RequireUppercase": spec.require_uppercase,
                "RequireLowercase": spec.require_lowercase,
                "RequireNumbers": spec.require_digits,
                "RequireSymbols": spec.require_symbols,
            },
            pool.get("Policies", {}).get("PasswordPolicy", {}),
        )
        mechanisms = pool.get("AccountRecoverySetting", {}).get("RecoveryMechanisms", [])
        findings.expect(lid, "account recovery", RECOVERY.get(spec.account_recovery), [m["Name"] for m in mechanisms])
        for client in view.of_type("AWS::Cognito::UserPoolClient"):
            described = cognito.describe_user_pool_client(UserPoolId=pool["Id"], ClientId=client.physical_id)
            findings.expect(
                client.logical_id,
                "client of the pool, without secret",
                (pool["Id"], None),
                (described["UserPoolClient"]["UserPoolId"], described["UserPoolClient"].get("ClientSecret")),
            )
