"""Issue 15: data at rest on customer managed keys (Control Tower CT.CLOUDWATCH.PR.3, CT.RDS.PR.30), asserted on its
own for every environment: every log group of a stack on that stack's own rotated key that only CloudWatch Logs
(for this account's log groups) may use, and the database's storage and Performance Insights on a key of its own."""

from __future__ import annotations

import pytest

import spec
from cfn import ref, resources

STACKS = ("foundation", "persistent", "compute", "edge")
REGION, ACCOUNT = "eu-central-1", "123456789012"
LOGS_SERVICE = f"logs.{REGION}.amazonaws.com"


def _render(value) -> str:
    """A string or Fn::Join of strings and pseudo parameters, rendered as text."""
    if isinstance(value, str):
        return value
    parts = value["Fn::Join"][1]
    pseudo = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT}
    return "".join(p if isinstance(p, str) else pseudo.get(p.get("Ref"), "?") for p in parts)


def _statement(key: dict, sid: str) -> dict:
    (found,) = [s for s in key["KeyPolicy"]["Statement"] if s.get("Sid") == sid]
    return found


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("env", spec.ENVIRONMENTS)
def test_every_log_group_is_encrypted_with_its_stacks_own_key(env, stack, synthesized):
    template = synthesized[(env, stack)].json
    keys = resources(template, "AWS::KMS::Key")
    log_groups = resources(template, "AWS::Logs::LogGroup")
    assert log_groups
    used = {ref(props["KmsKeyId"]) for props in log_groups.values()}
    assert len(used) == 1 and used <= keys.keys(), "one key of this stack for all its log groups"


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("env", spec.ENVIRONMENTS)
def test_the_log_key_rotates_and_only_cloudwatch_logs_of_this_account_may_use_it(env, stack, synthesized):
    template = synthesized[(env, stack)].json
    (key_id,) = {ref(props["KmsKeyId"]) for props in resources(template, "AWS::Logs::LogGroup").values()}
    key = resources(template, "AWS::KMS::Key")[key_id]
    assert key["EnableKeyRotation"] is True
    logs = _statement(key, "AllowCloudWatchLogs")
    assert logs["Effect"] == "Allow" and logs["Principal"] == {"Service": LOGS_SERVICE}
    assert set(logs["Action"]) == {"kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*",
                                   "kms:Describe*"}
    (context,) = logs["Condition"]["ArnLike"].values()
    assert _render(context) == f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:*"
    services = {str(s["Principal"]) for s in key["KeyPolicy"]["Statement"] if s["Effect"] == "Allow"}
    assert services == {str({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}), str({"Service": LOGS_SERVICE})}, \
        "only the account's administrators and CloudWatch Logs"


@pytest.mark.parametrize("env", spec.ENVIRONMENTS)
def test_database_storage_and_performance_insights_use_a_customer_managed_key(env, synthesized):
    template = synthesized[(env, "persistent")].json
    (database,) = resources(template, "AWS::RDS::DBInstance").values()
    keys = resources(template, "AWS::KMS::Key")
    assert database["StorageEncrypted"] is True
    key_id = ref(database["KmsKeyId"])
    assert keys[key_id]["EnableKeyRotation"] is True
    log_keys = {ref(props["KmsKeyId"]) for props in resources(template, "AWS::Logs::LogGroup").values()}
    assert key_id not in log_keys, "the database has a key of its own"
    if database.get("EnablePerformanceInsights"):
        assert ref(database["PerformanceInsightsKMSKeyId"]) == key_id


@pytest.mark.parametrize("env", spec.ENVIRONMENTS)
def test_no_key_may_be_granted_to_anything_but_an_aws_service(env, synthesized):
    for stack in STACKS:
        for key_id, key in resources(synthesized[(env, stack)].json, "AWS::KMS::Key").items():
            deny = _statement(key, "DenyGrantsExceptForAwsServices")
            assert deny["Effect"] == "Deny" and deny["Action"] == "kms:CreateGrant", (stack, key_id)
            assert deny["Condition"] == {"BoolIfExists": {"kms:GrantIsForAWSResource": "false",
                                                          "aws:PrincipalIsAWSService": "false"}}


@pytest.mark.parametrize("env", spec.ENVIRONMENTS)
def test_keys_outlive_a_prod_stack_and_wait_a_week_before_deletion(env, synthesized):
    """Deleting a key makes what it encrypted unreadable: prod retains every key (not on a failed first create)."""
    expected = "RetainExceptOnCreate" if spec.DELETION_PROTECTION[env] else "Delete"
    for stack in STACKS:
        template = synthesized[(env, stack)].json
        for key_id in resources(template, "AWS::KMS::Key"):
            key = template["Resources"][key_id]
            assert (key["DeletionPolicy"], key["Properties"]["PendingWindowInDays"]) == (expected, 7), (stack, key_id)
