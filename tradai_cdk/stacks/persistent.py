"""Persistent stack: DynamoDB (spec 3.2), S3 (3.1), RDS (3.3), secrets (8) and Cognito (4.2).

Everything here holds data: prod retains it and protects it from deletion.
Later stacks receive typed handles (``tables``, ``buckets``, ``secrets``,
``user_pool``, ``database``), never names rebuilt from strings.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import (
    aws_cloudwatch as cloudwatch,
    aws_cognito as cognito,
    aws_ec2 as ec2,
    aws_iam as iam,
    aws_logs as logs,
    aws_rds as rds,
    aws_s3 as s3,
    aws_secretsmanager as secretsmanager,
)
from constructs import Construct

from ..constructs.alarms import DatabaseAlarms
from ..constructs.customer_key import customer_key
from ..constructs.tradai_bucket import TradaiBucket
from ..constructs.tradai_table import TradaiTable
from .base import TradaiStack, log_retention, pascal, stateful_removal_policy

LOGS_BUCKET = "logs"
ALB_LOG_PREFIX = "alb"
CLOUDTRAIL_LOG_PREFIX = "cloudtrail"
DB_MASTER_USER = "tradai_admin"
# Characters that would need escaping inside a postgresql:// URL.
URL_UNSAFE = " %+~`#$&*()|[]{}:;<>?!'/@\"\\=,^"
RDS_LOG_EXPORTS = ("postgresql", "upgrade")


class PersistentStack(TradaiStack):
    """Tables, buckets, the PostgreSQL instance, secrets and the user pool of one environment."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        database_subnets: Sequence[ec2.ISubnet],
        database_security_group: ec2.ISecurityGroup,
        alarm_action: cloudwatch.IAlarmAction,
        **kwargs: Any,
    ):
        super().__init__(scope, construct_id, **kwargs)
        config = self.config
        self.removal_policy = stateful_removal_policy(config)
        self.tables = {
            spec.key: TradaiTable(
                self,
                pascal(spec.key),
                table_name=config.naming.name(spec.key),
                spec=spec,
                deletion_protection=config.profile.deletion_protection,
                removal_policy=self.removal_policy,
            )
            for spec in config.tables
        }
        self.buckets = self._buckets()
        self.database = self._database(vpc, database_subnets, database_security_group)
        thresholds = config.profile.alarms
        self.database_alarms = DatabaseAlarms(
            self,
            "DatabaseAlarms",
            instance=self.database,
            identifier=config.naming.name("db"),
            cpu_percent=thresholds.rds_cpu_percent,
            free_storage_gib=thresholds.rds_free_storage_gib,
            connections=thresholds.rds_connections,
            action=alarm_action,
        )
        self.secrets = self._secrets()
        self.user_pool, self.user_pool_client = self._user_pool()

    def _buckets(self) -> dict[str, TradaiBucket]:
        config = self.config
        by_component = {spec.component: spec for spec in config.buckets}
        ordered = [by_component[LOGS_BUCKET]] + [s for s in config.buckets if s.component != LOGS_BUCKET]
        buckets: dict[str, TradaiBucket] = {}
        for spec in ordered:
            logs_bucket = buckets.get(LOGS_BUCKET)
            buckets[spec.component] = TradaiBucket(
                self,
                f"{pascal(spec.component)}Bucket",
                bucket_name=config.bucket_name(spec.component),
                versioned=spec.versioned,
                removal_policy=self.removal_policy,
                glacier_after_days=spec.glacier_after_days,
                expire_after_days=spec.expire_after_days,
                access_logs=logs_bucket.bucket if logs_bucket else None,
            )
        self._allow_log_delivery(buckets[LOGS_BUCKET].bucket)
        return buckets

    def _allow_log_delivery(self, bucket: s3.Bucket) -> None:
        """ALB access logs (regional ELB account) and CloudTrail may write under their prefixes."""
        elb_account = cdk.region_info.RegionInfo.get(self.region).elbv2_account
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AlbAccessLogs",
                principals=[iam.AccountPrincipal(elb_account)],
                actions=["s3:PutObject"],
                resources=[bucket.arn_for_objects(f"{ALB_LOG_PREFIX}/AWSLogs/{self.account}/*")],
            )
        )
        trail = iam.ServicePrincipal("cloudtrail.amazonaws.com")
        same_account = {"StringEquals": {"aws:SourceAccount": self.account}}
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudTrailAclCheck",
                principals=[trail],
                actions=["s3:GetBucketAcl"],
                resources=[bucket.bucket_arn],
                conditions=same_account,
            )
        )
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudTrailWrite",
                principals=[trail],
                actions=["s3:PutObject"],
                resources=[bucket.arn_for_objects(f"{CLOUDTRAIL_LOG_PREFIX}/AWSLogs/{self.account}/*")],
                conditions=same_account,
            )
        )

    def _database(
        self, vpc: ec2.IVpc, subnets: Sequence[ec2.ISubnet], security_group: ec2.ISecurityGroup
    ) -> rds.DatabaseInstance:
        config, spec = self.config, self.config.rds
        prod_like = config.profile.deletion_protection
        engine = rds.DatabaseInstanceEngine.postgres(
            version=rds.PostgresEngineVersion.of(spec.engine_version, spec.engine_version.split(".")[0])
        )
        identifier = config.naming.name("db")
        self.master_secret = rds.DatabaseSecret(
            self,
            "DatabaseMasterSecret",
            username=DB_MASTER_USER,
            secret_name=self.config.naming.secret("database-master"),
            exclude_characters=URL_UNSAFE,
        )
        self.master_secret.apply_removal_policy(self.removal_policy)
        key = customer_key(
            self,
            "DatabaseKey",
            description=f"Encrypts {identifier}'s storage, snapshots and Performance Insights data",
            alias=f"alias/{identifier}",
            removal_policy=self.removal_policy,
        )
        log_groups = [
            logs.LogGroup(
                self,
                f"DatabaseLogs{pascal(kind)}",
                log_group_name=f"/aws/rds/instance/{identifier}/{kind}",
                retention=log_retention(config.profile.log_retention_days),
                removal_policy=self.removal_policy,
            )
            for kind in RDS_LOG_EXPORTS
        ]
        database = rds.DatabaseInstance(
            self,
            "Database",
            instance_identifier=identifier,
            engine=engine,
            instance_type=ec2.InstanceType(spec.instance_class.removeprefix("db.")),
            allocated_storage=spec.allocated_storage_gib,
            storage_type=rds.StorageType(spec.storage_type.upper()),
            multi_az=spec.multi_az,
            backup_retention=cdk.Duration.days(spec.backup_retention_days),
            parameter_group=rds.ParameterGroup(
                self,
                "DatabaseParameters",
                engine=engine,
                description=f"{identifier}: TLS only",
                parameters={"rds.force_ssl": "1" if spec.force_ssl else "0"},
            ),
            subnet_group=rds.SubnetGroup(
                self,
                "DatabaseSubnets",
                vpc=vpc,
                description=f"{identifier}: database subnets",
                subnet_group_name=config.naming.name("db-subnets"),
                vpc_subnets=ec2.SubnetSelection(subnets=list(subnets)),
                removal_policy=self.removal_policy,
            ),
            vpc=vpc,
            security_groups=[security_group],
            publicly_accessible=spec.publicly_accessible,
            port=spec.port,
            database_name=spec.database_name,
            storage_encrypted=True,
            storage_encryption_key=key,
            iam_authentication=True,
            credentials=rds.Credentials.from_secret(self.master_secret),
            cloudwatch_logs_exports=list(RDS_LOG_EXPORTS),
            auto_minor_version_upgrade=False,
            copy_tags_to_snapshot=True,
            deletion_protection=prod_like,
            monitoring_interval=cdk.Duration.seconds(spec.monitoring_interval_seconds),
            enable_performance_insights=spec.performance_insights,
            performance_insight_retention=rds.PerformanceInsightRetention.DEFAULT
            if spec.performance_insights
            else None,
            performance_insight_encryption_key=key if spec.performance_insights else None,
            removal_policy=cdk.RemovalPolicy.SNAPSHOT if prod_like else cdk.RemovalPolicy.DESTROY,
        )
        for log_group in log_groups:
            database.node.add_dependency(log_group)
        return database

    def _secrets(self) -> dict[str, secretsmanager.ISecret]:
        """Spec 8's secrets; every value is generated or resolved at deploy time, none is in the template."""
        generators: dict[str, Callable[[], dict[str, Any]]] = {
            "tradai/database-url": lambda: dict(secret_string_value=self._database_url()),
            "tradai/mlflow-credentials": lambda: dict(
                generate_secret_string=secretsmanager.SecretStringGenerator(
                    secret_string_template='{"username": "mlflow"}',
                    generate_string_key="password",
                    exclude_punctuation=True,
                    password_length=32,
                )
            ),
            "tradai/binance-api": lambda: dict(
                generate_secret_string=secretsmanager.SecretStringGenerator(
                    secret_string_template='{"api_key": ""}',
                    generate_string_key="api_secret",
                    exclude_punctuation=True,
                    password_length=64,
                )
            ),
            "tradai/jwt-secret": lambda: dict(
                generate_secret_string=secretsmanager.SecretStringGenerator(
                    exclude_punctuation=True, password_length=64
                )
            ),
        }
        secrets: dict[str, secretsmanager.ISecret] = {}
        for spec in self.config.secrets:
            short = spec.short
            secrets[spec.name] = secretsmanager.Secret(
                self,
                f"{pascal(short)}Secret",
                secret_name=self.config.naming.secret(short),
                description=f"{spec.contents} (rotation: {spec.rotation})",
                removal_policy=self.removal_policy,
                **generators[spec.name](),
            )
        return secrets

    def _database_url(self) -> cdk.SecretValue:
        """postgresql:// URL built from dynamic references to the generated master secret."""
        master = self.master_secret
        user = master.secret_value_from_json("username").unsafe_unwrap()
        password = master.secret_value_from_json("password").unsafe_unwrap()
        endpoint = self.database.db_instance_endpoint_address
        port = self.database.db_instance_endpoint_port
        return cdk.SecretValue.unsafe_plain_text(
            f"postgresql://{user}:{password}@{endpoint}:{port}/{self.config.rds.database_name}?sslmode=require"
        )

    def _user_pool(self) -> tuple[cognito.UserPool, cognito.UserPoolClient]:
        spec = self.config.cognito
        pool = cognito.UserPool(
            self,
            "UserPool",
            user_pool_name=spec.user_pool_name,
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(email=True),
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            mfa=cognito.Mfa[spec.mfa],
            mfa_second_factor=cognito.MfaSecondFactor(otp="TOTP" in spec.mfa_types, sms="SMS" in spec.mfa_types),
            password_policy=cognito.PasswordPolicy(
                min_length=spec.password_min_length,
                require_uppercase=spec.require_uppercase,
                require_lowercase=spec.require_lowercase,
                require_digits=spec.require_digits,
                require_symbols=spec.require_symbols,
            ),
            account_recovery=cognito.AccountRecovery[spec.account_recovery],
            feature_plan=cognito.FeaturePlan.PLUS if spec.advanced_security else cognito.FeaturePlan.ESSENTIALS,
            deletion_protection=self.config.profile.deletion_protection,
            removal_policy=self.removal_policy,
        )
        client = pool.add_client(
            "ApiClient",
            user_pool_client_name=self.config.naming.name("api-client"),
            generate_secret=False,
            auth_flows=cognito.AuthFlow(user_srp=True),
            prevent_user_existence_errors=True,
            enable_token_revocation=True,
            access_token_validity=cdk.Duration.hours(1),
            id_token_validity=cdk.Duration.hours(1),
            refresh_token_validity=cdk.Duration.days(30),
        )
        return pool, client
