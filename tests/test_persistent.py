"""Spec sections 3.1-3.3, 4.2, 8 and 10: the persistent stack."""

import dataclasses
import json
import re
from pathlib import Path

import pytest

import spec
from cfn import ref, resources
from conftest import IMAGE_TAG, ROOT
from tradai_cdk.app import build_app, stage_id
from tradai_cdk.config import ConfigError, config_for, validate


def _tables(template):
    return {p["TableName"]: p for p in resources(template, "AWS::DynamoDB::Table").values()}


def _key_schema(schema):
    keys = {k["KeyType"]: k["AttributeName"] for k in schema}
    return keys["HASH"], keys.get("RANGE")


def test_exactly_the_twelve_tables(persistent):
    env, template = persistent
    assert set(_tables(template)) == {f"tradai-{key}-{env}" for key in spec.TABLES}


@pytest.mark.parametrize("key", spec.TABLES)
def test_table_keys_gsis_ttl_and_pitr(persistent, key):
    env, template = persistent
    partition, sort, gsis, ttl, pitr = spec.TABLES[key]
    table = _tables(template)[f"tradai-{key}-{env}"]
    assert _key_schema(table["KeySchema"]) == (partition, sort)
    assert all(a["AttributeType"] == "S" for a in table["AttributeDefinitions"])
    found = {g["IndexName"]: g for g in table.get("GlobalSecondaryIndexes", [])}
    assert set(found) == {gsi[0] for gsi in gsis}
    for name, hash_key, range_key, projection, non_key in gsis:
        assert _key_schema(found[name]["KeySchema"]) == (hash_key, range_key), name
        assert found[name]["Projection"]["ProjectionType"] == projection, name
        assert tuple(found[name]["Projection"].get("NonKeyAttributes", ())) == non_key, name
    if ttl:
        assert table["TimeToLiveSpecification"] == {"AttributeName": ttl, "Enabled": True}
    else:
        assert "TimeToLiveSpecification" not in table
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is pitr


def test_tables_on_demand_encrypted_and_protected_in_prod(persistent):
    env, template = persistent
    tables = _tables(template)
    assert len(tables) == len(spec.TABLES)
    for name, table in tables.items():
        assert table["BillingMode"] == "PAY_PER_REQUEST", name
        assert table["SSESpecification"]["SSEEnabled"] is True, name
        assert table.get("DeletionProtectionEnabled", False) is spec.DELETION_PROTECTION[env], name


def _buckets(template):
    return {p["BucketName"]: (logical_id, p) for logical_id, p in resources(template, "AWS::S3::Bucket").items()}


def test_five_buckets_versioning_encryption_public_access(persistent):
    env, template = persistent
    buckets = _buckets(template)
    assert set(buckets) == {f"tradai-{c}-{env}" for c in spec.BUCKETS}
    for component, (versioned, _, _) in spec.BUCKETS.items():
        _, bucket = buckets[f"tradai-{component}-{env}"]
        assert (bucket.get("VersioningConfiguration", {}).get("Status") == "Enabled") is versioned, component
        (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256", component
        assert bucket["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True}, component


def test_bucket_lifecycles(persistent):
    env, template = persistent
    for component, (_, glacier, expire) in spec.BUCKETS.items():
        _, bucket = _buckets(template)[f"tradai-{component}-{env}"]
        rules = bucket.get("LifecycleConfiguration", {}).get("Rules", [])
        transitions = [(t["StorageClass"], t["TransitionInDays"]) for r in rules for t in r.get("Transitions", [])]
        expirations = [r["ExpirationInDays"] for r in rules if "ExpirationInDays" in r]
        assert transitions == ([("GLACIER", glacier)] if glacier else []), component
        assert expirations == ([expire] if expire else []), component


def test_every_bucket_denies_plain_http(persistent):
    env, template = persistent
    policies = {ref(p["Bucket"]): p["PolicyDocument"]["Statement"]
                for p in resources(template, "AWS::S3::BucketPolicy").values()}
    buckets = _buckets(template)
    assert len(buckets) == len(spec.BUCKETS)
    for name, (logical_id, _) in buckets.items():
        deny = [s for s in policies[logical_id] if s["Effect"] == "Deny"]
        assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in deny), name


def test_other_buckets_log_access_to_the_logs_bucket(persistent):
    env, template = persistent
    buckets = _buckets(template)
    logs_id = buckets[f"tradai-logs-{env}"][0]
    assert len(buckets) == len(spec.BUCKETS)
    for name, (_, bucket) in buckets.items():
        if name != f"tradai-logs-{env}":
            assert ref(bucket["LoggingConfiguration"]["DestinationBucketName"]) == logs_id, name


def test_logs_bucket_accepts_alb_access_logs_and_cloudtrail(persistent):
    env, template = persistent
    logs_id, logs_bucket = _buckets(template)[f"tradai-logs-{env}"]
    assert logs_bucket["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    (policy,) = [p for p in resources(template, "AWS::S3::BucketPolicy").values() if ref(p["Bucket"]) == logs_id]
    statements = {s.get("Sid"): s for s in policy["PolicyDocument"]["Statement"]}
    elb_account_eu_central_1 = "054676820928"
    assert elb_account_eu_central_1 in str(statements["AlbAccessLogs"]["Principal"])
    assert statements["AlbAccessLogs"]["Action"] == "s3:PutObject"
    assert statements["CloudTrailAclCheck"]["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
    assert statements["CloudTrailAclCheck"]["Action"] == "s3:GetBucketAcl"
    assert statements["CloudTrailWrite"]["Action"] == "s3:PutObject"
    assert any("logging.s3.amazonaws.com" in str(s["Principal"]) for s in statements.values())


def _database(template):
    (db,) = resources(template, "AWS::RDS::DBInstance").values()
    return db


def test_rds_per_environment_values(persistent):
    env, template = persistent
    db = _database(template)
    assert {key: db[key] for key in spec.RDS[env]} == spec.RDS[env]
    assert (db["Engine"], db["EngineVersion"]) == ("postgres", spec.RDS_ENGINE_VERSION)
    assert db["StorageType"] == "gp3"
    assert db["PubliclyAccessible"] is False
    assert db["StorageEncrypted"] is True
    assert set(db["EnableCloudwatchLogsExports"]) == {"postgresql", "upgrade"}
    assert db.get("DeletionProtection", False) is spec.DELETION_PROTECTION[env]


def test_rds_forces_ssl_through_its_parameter_group(persistent):
    _, template = persistent
    groups = resources(template, "AWS::RDS::DBParameterGroup")
    assert groups[ref(_database(template)["DBParameterGroupName"])]["Parameters"] == {"rds.force_ssl": "1"}


def test_rds_lives_in_the_database_subnets_behind_the_rds_sg(persistent):
    env, template = persistent
    (group,) = resources(template, "AWS::RDS::DBSubnetGroup").values()
    imports = str(group["SubnetIds"])
    assert "Database1Subnet" in imports and "Database2Subnet" in imports and "Private" not in imports
    (sg,) = _database(template)["VPCSecurityGroups"]
    assert "SecurityGroupsRds" in str(sg)


def test_rds_master_credentials_are_generated(persistent):
    env, template = persistent
    db = _database(template)
    assert "{{resolve:secretsmanager:" in str(db["MasterUserPassword"])
    secrets = resources(template, "AWS::SecretsManager::Secret")
    (master,) = [s for s in secrets.values() if s["Name"] == f"tradai/{env}/database-master"]
    assert master["GenerateSecretString"]["GenerateStringKey"] == "password"


def test_prod_database_snapshots_on_delete(persistent):
    env, template = persistent
    (db,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::RDS::DBInstance"]
    assert db["DeletionPolicy"] == ("Snapshot" if spec.DELETION_PROTECTION[env] else "Delete")


def test_spec_secrets_exist_without_plaintext_values(persistent):
    env, template = persistent
    secrets = {s["Name"]: s for s in resources(template, "AWS::SecretsManager::Secret").values()}
    for name in spec.SECRETS:
        secret = secrets[name.replace("tradai/", f"tradai/{env}/")]
        if "SecretString" in secret:
            assert "{{resolve:secretsmanager:" in str(secret["SecretString"]), name
        else:
            assert "GenerateSecretString" in secret, name


def test_database_url_is_built_from_the_master_secret(persistent):
    env, template = persistent
    secrets = {s["Name"]: s for s in resources(template, "AWS::SecretsManager::Secret").values()}
    url = str(secrets[f"tradai/{env}/database-url"]["SecretString"])
    assert "postgresql://" in url and ":SecretString:username::}}" in url and ":SecretString:password::}}" in url
    assert "Endpoint.Address" in url and "sslmode=require" in url


def test_user_pool_matches_spec(persistent):
    env, template = persistent
    (pool,) = resources(template, "AWS::Cognito::UserPool").values()
    assert pool["UserPoolName"] == spec.USER_POOL_NAME
    assert pool["MfaConfiguration"] == "ON"
    assert pool["EnabledMfas"] == ["SOFTWARE_TOKEN_MFA"]
    assert {k: pool["Policies"]["PasswordPolicy"][k] for k in spec.PASSWORD_POLICY} == spec.PASSWORD_POLICY
    assert pool["AccountRecoverySetting"] == {"RecoveryMechanisms": [{"Name": "verified_email", "Priority": 1}]}
    assert "UserPoolAddOns" not in pool
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert pool.get("DeletionProtection", "INACTIVE") == ("ACTIVE" if spec.DELETION_PROTECTION[env] else "INACTIVE")


def test_api_client_has_no_secret_and_bounded_tokens(persistent):
    _, template = persistent
    (client,) = resources(template, "AWS::Cognito::UserPoolClient").values()
    assert client["GenerateSecret"] is False
    assert client["AccessTokenValidity"] == 60 and client["IdTokenValidity"] == 60
    assert client["PreventUserExistenceErrors"] == "ENABLED"


@pytest.mark.parametrize("env", spec.ENVIRONMENTS)
def test_table_count_and_idempotency_table_with_cdk_assertions(env, synthesized):
    template = synthesized[(env, "persistent")].template
    template.resource_count_is("AWS::DynamoDB::Table", len(spec.TABLES))
    template.resource_count_is("AWS::S3::Bucket", len(spec.BUCKETS))
    template.has_resource_properties("AWS::DynamoDB::Table", {
        "TableName": f"tradai-idempotency-{env}",
        "KeySchema": [{"AttributeName": "idempotency_key", "KeyType": "HASH"}],
        "TimeToLiveSpecification": {"AttributeName": "expiration", "Enabled": True},
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": False}})


# Bucket names are global (issue 15): the optional suffix of spec 9.1 from the `bucket_suffix` context.

SUFFIX = "acme-1"
SUFFIX_ENV = "prod"
MLFLOW_SERVICE_TYPES = ("AWS::ECR::Repository", "AWS::Logs::LogGroup", "AWS::ECS::TaskDefinition",
                        "AWS::ECS::Service", "AWS::CloudWatch::Alarm")


@pytest.mark.parametrize("env", spec.ENVIRONMENTS)
def test_bucket_names_without_a_suffix(env):
    config = config_for(env)
    assert config.naming.bucket_suffix is None
    assert config.bucket_names == tuple(f"tradai-{c}-{env}" for c in spec.BUCKETS)


def test_bucket_suffix_context_string_applies_to_every_environment():
    for env in spec.ENVIRONMENTS:
        config = config_for(env, bucket_suffix=SUFFIX)
        assert config.naming.bucket_suffix == SUFFIX
        assert config.bucket_names == tuple(f"tradai-{c}-{env}-{SUFFIX}" for c in spec.BUCKETS)
        assert config.naming.name("results") == f"tradai-results-{env}"  # other names keep their form


def test_bucket_suffix_context_mapping_is_per_environment():
    context = {"prod": SUFFIX, "staging": None}
    assert config_for("prod", bucket_suffix=context).bucket_name("logs") == f"tradai-logs-prod-{SUFFIX}"
    assert config_for("staging", bucket_suffix=context).bucket_name("logs") == "tradai-logs-staging"
    assert config_for("dev", bucket_suffix=context).bucket_name("logs") == "tradai-logs-dev"


def test_longest_bucket_suffix_gives_63_character_names():
    longest = len("tradai-arcticdb-staging-")
    config = config_for("staging", bucket_suffix="a" * (63 - longest))
    assert max(len(name) for name in config.bucket_names) == 63
    with pytest.raises(ConfigError):
        config_for("staging", bucket_suffix="a" * (64 - longest))


@pytest.mark.parametrize("value", ["", "Acme", "acme_1", "acme.1", "-acme", "acme-", "a b", "a" * 43, "s3alias",
                                   "x--ol-s3", 12, ["acme"]])
def test_bad_bucket_suffix_context_is_a_config_error(value):
    with pytest.raises(ConfigError) as error:
        config_for("prod", bucket_suffix=value)
    assert error.value.field == "context bucket_suffix"
    assert error.value.value == value
    assert "lowercase letters, digits and hyphens" in error.value.allowed or "mapping" in error.value.allowed
    assert "bucket_suffix" in error.value.allowed


def test_bad_bucket_suffix_in_a_mapping_names_its_environment():
    with pytest.raises(ConfigError) as error:
        config_for("prod", bucket_suffix={"prod": "Acme"})
    assert (error.value.field, error.value.value) == ("context bucket_suffix.prod", "Acme")
    assert "at most 42 characters" in error.value.allowed and "-c bucket_suffix=" in error.value.allowed
    with pytest.raises(ConfigError) as error:
        config_for("dev", bucket_suffix={"qa": "acme"})
    assert (error.value.field, error.value.value) == ("context bucket_suffix key", "qa")


def test_bad_naming_bucket_suffix_fails_validation():
    config = config_for("dev")
    bad = dataclasses.replace(config, naming=dataclasses.replace(config.naming, bucket_suffix="UPPER"))
    with pytest.raises(ConfigError) as error:
        validate(bad)
    assert (error.value.field, error.value.value) == ("naming.bucket_suffix", "UPPER")


def test_synth_refuses_a_bad_bucket_suffix_context():
    with pytest.raises(ConfigError) as error:
        build_app(context={"image_tag": "0a1b2c3", "bucket_suffix": "Bad_Suffix"})
    assert (error.value.field, error.value.value) == ("context bucket_suffix", "Bad_Suffix")


@pytest.fixture(scope="module")
def suffixed_stage(tmp_path_factory):
    """Every template of the prod stage built with `-c bucket_suffix=acme-1 -c stages=prod` (one stage, no policy
    plugins: ~2 s)."""
    context = {**json.loads((ROOT / "cdk.json").read_text())["context"], "image_tag": IMAGE_TAG,
               "bucket_suffix": {SUFFIX_ENV: SUFFIX}, "stages": SUFFIX_ENV}
    app = build_app(context=context, outdir=str(tmp_path_factory.mktemp("cdk.out")))
    assembly = app.node.find_child(stage_id(SUFFIX_ENV)).synth()
    return {artifact.stack_name.split("-")[1]: json.loads(Path(assembly.directory, artifact.template_file).read_text())
            for artifact in assembly.stacks}


def _strings(value, path=()):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, path + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, path + (index,))
    elif isinstance(value, str):
        yield path, value


def test_bucket_suffix_reaches_every_bucket_and_every_use(suffixed_stage):
    env = SUFFIX_ENV
    suffixed = {c: f"tradai-{c}-{env}-{SUFFIX}" for c in spec.BUCKETS}
    assert set(_buckets(suffixed_stage["persistent"])) == set(suffixed.values())
    compute, edge = suffixed_stage["compute"], suffixed_stage["edge"]
    (alb,) = resources(compute, "AWS::ElasticLoadBalancingV2::LoadBalancer").values()
    attributes = {a["Key"]: a["Value"] for a in alb["LoadBalancerAttributes"]}
    assert attributes["access_logs.s3.bucket"] == suffixed["logs"]
    (trail,) = resources(edge, "AWS::CloudTrail::Trail").values()
    assert trail["S3BucketName"] == suffixed["logs"]
    text = json.dumps(compute)
    for use in (f'"S3_RESULTS_BUCKET", "Value": "{suffixed["results"]}"',
                f'"ARCTICDB_S3_URI", "Value": "s3://{suffixed["arcticdb"]}"'):
        assert use in text, use
    # Grants, env vars, URIs: every S3 ARN and s3:// URI of a TradAI bucket carries the suffix ...
    for stack, template in suffixed_stage.items():
        for _, value in _strings(template):
            for name in re.findall(r"(?::s3:::|s3://)(tradai-[a-z0-9-]+)", value):
                assert name in suffixed.values(), (stack, value)
    # ... and an unsuffixed bucket name is left only where it is the MLflow service's own name.
    for stack, template in suffixed_stage.items():
        for logical_id, resource in template.get("Resources", {}).items():
            for path, value in _strings(resource):
                for component, name in suffixed.items():
                    if re.search(rf"tradai-{component}-{env}(?![-a-z0-9])", value):
                        assert component == "mlflow" and resource["Type"] in MLFLOW_SERVICE_TYPES, \
                            (stack, logical_id, path, value)
    grants = [value for template in suffixed_stage.values() for _, value in _strings(template)
              if f':s3:::{suffixed["results"]}' in value]
    assert grants, "no IAM grant on the results bucket was found: the ARN check above checked nothing"
