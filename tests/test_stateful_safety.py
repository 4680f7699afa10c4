"""Stateful resources: retained and protected in prod, and never silently renamed.

Renaming a construct changes its logical id, and CloudFormation then
*replaces* the resource: a new empty table, bucket or database, and the old
one deleted (or orphaned). The committed list below makes such a rename fail
here first.
"""

import json
from pathlib import Path

import pytest

import spec

STATEFUL_TYPES = ("AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::RDS::DBInstance", "AWS::Cognito::UserPool",
                  "AWS::EC2::VPC", "AWS::EC2::Subnet", "AWS::SecretsManager::Secret",
                  "AWS::EC2::EIP")  # the NAT's EIP is the egress address exchanges allowlist
# Where AWS offers deletion protection, the property and the value that turns it on.
DELETION_PROTECTION = {
    "AWS::DynamoDB::Table": ("DeletionProtectionEnabled", True),
    "AWS::RDS::DBInstance": ("DeletionProtection", True),
    "AWS::Cognito::UserPool": ("DeletionProtection", "ACTIVE"),
}
COMMITTED = Path(__file__).with_name("stateful_resources.json")


def _stateful(template: dict) -> dict[str, dict]:
    return {logical_id: r for logical_id, r in template.get("Resources", {}).items() if r["Type"] in STATEFUL_TYPES}


def test_prod_stateful_resources_are_retained_and_protected(synthesized):
    checked = set()
    for (env, stack), synth in synthesized.items():
        if env != "prod":
            continue
        for logical_id, resource in _stateful(synth.json).items():
            checked.add(resource["Type"])
            where = f"{stack}/{logical_id} ({resource['Type']})"
            if resource["Type"] == "AWS::RDS::DBInstance":
                assert (resource.get("DeletionPolicy"), resource.get("UpdateReplacePolicy")) == ("Snapshot", "Snapshot")
            else:  # kept on deletion and replacement, but not after a failed first create
                assert resource.get("DeletionPolicy") == "RetainExceptOnCreate", f"{where}: DeletionPolicy"
                assert resource.get("UpdateReplacePolicy") == "Retain", f"{where}: UpdateReplacePolicy"
            if resource["Type"] in DELETION_PROTECTION:
                prop, on = DELETION_PROTECTION[resource["Type"]]
                assert resource["Properties"].get(prop) == on, f"{where} lacks deletion protection"
    assert checked == set(STATEFUL_TYPES)  # every type was really checked, none skipped by a filter


NAMED_IN_PROD = ("AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::SecretsManager::Secret", "AWS::Cognito::UserPool",
                 "AWS::RDS::DBSubnetGroup", "AWS::ECR::Repository", "AWS::Logs::LogGroup")


def test_prod_named_resources_survive_deletion_but_not_a_failed_first_create(synthesized):
    checked = set()
    for (env, stack), synth in synthesized.items():
        if env != "prod":
            continue
        for logical_id, resource in synth.json["Resources"].items():
            if resource["Type"] in NAMED_IN_PROD:
                checked.add(resource["Type"])
                assert resource.get("DeletionPolicy") == "RetainExceptOnCreate", f"{stack}/{logical_id}"
    assert checked == set(NAMED_IN_PROD)


def test_image_repositories_outlive_their_stack_in_every_environment(synthesized):
    checked = set()
    for (env, stack), synth in synthesized.items():
        for logical_id, resource in synth.json["Resources"].items():
            if resource["Type"] == "AWS::ECR::Repository":
                checked.add(env)
                assert resource.get("DeletionPolicy") == "RetainExceptOnCreate", f"{env}/{stack}/{logical_id}"
    assert checked == set(spec.ENVIRONMENTS)


@pytest.mark.parametrize("env", spec.ENVIRONMENTS)
def test_stateful_logical_ids_match_the_committed_list(env, synthesized):
    committed = json.loads(COMMITTED.read_text())
    assert committed and all(committed.values()), f"{COMMITTED.name} lists no stateful logical ids"
    for stack, expected in committed.items():
        found = sorted(_stateful(synthesized[(env, stack)].json))
        missing = sorted(set(expected) - set(found))
        added = sorted(set(found) - set(expected))
        assert not missing, (
            f"{env}/{stack}: stateful logical ids disappeared: {missing}. A renamed construct makes CloudFormation "
            f"REPLACE the resource (data loss). Restore the old id, or migrate deliberately and update {COMMITTED.name}.")
        assert not added, f"{env}/{stack}: new stateful resources {added}: add them to {COMMITTED.name}."
