"""Spec sections 3.1-3.3, 4.2, 8 and 10: the persistent stack."""

import pytest

import spec
from cfn import ref, resources


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
