"""The stateful-change guard (make guard) on small template pairs, its override file, and the real templates."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import cfnlint
import pytest

from tradai_cdk.app import stage_id
from tradai_cdk.review.__main__ import main
from tradai_cdk.review.changes import MAY_BE_REPLACED, MODIFIED, REMOVED, REPLACED, SCHEMAS, Stack, compare, create_only
from tradai_cdk.review.guard import Override, judge, parse_overrides, report

TABLE = {
    "Type": "AWS::DynamoDB::Table",
    "DeletionPolicy": "RetainExceptOnCreate",
    "UpdateReplacePolicy": "Retain",
    "Properties": {
        "TableName": "tradai-workflow-state-prod",
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": [{"AttributeName": "run_id", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "run_id", "AttributeType": "S"}],
        "Tags": [{"Key": "Environment", "Value": "prod"}],
    },
}
BUCKET = {
    "Type": "AWS::S3::Bucket",
    "DeletionPolicy": "RetainExceptOnCreate",
    "UpdateReplacePolicy": "Retain",
    "Properties": {"BucketName": "tradai-results-prod"},
}
SECRET = {
    "Type": "AWS::SecretsManager::Secret",
    "DeletionPolicy": "Delete",
    "UpdateReplacePolicy": "Delete",
    "Properties": {"Name": "tradai/dev/binance-api"},
}
DATABASE = {
    "Type": "AWS::RDS::DBInstance",
    "DeletionPolicy": "Snapshot",
    "UpdateReplacePolicy": "Snapshot",
    "Properties": {"Engine": "postgres", "EngineVersion": "15.13", "DBInstanceClass": "db.t4g.micro"},
}
FUNCTION = {
    "Type": "AWS::Lambda::Function",
    "Properties": {"FunctionName": "tradai-health-check-prod", "MemorySize": 256, "Runtime": "python3.12"},
}
VPC = {"Type": "AWS::EC2::VPC", "Properties": {"CidrBlock": "10.0.0.0/16"}}
SUBNET = {
    "Type": "AWS::EC2::Subnet",
    "Properties": {"VpcId": {"Ref": "Vpc"}, "CidrBlock": "10.0.1.0/24", "AvailabilityZone": "eu-central-1a"},
}


def _guard(old: dict, new: dict, overrides=(), stack: str = "Persistent"):
    """The guard's verdict for one prod stack going from ``old`` to ``new`` resources."""

    def side(resources):
        return {
            ("TradaiProd", stack): Stack("TradaiProd", stack, f"tradai-{stack.lower()}-prod", {"Resources": resources})
        }

    changes = compare(side(old), side(new))
    return changes, judge(changes, list(overrides))


def _with(resource: dict, **properties) -> dict:
    changed = copy.deepcopy(resource)
    changed["Properties"].update(properties)
    return changed


def test_create_only_properties_come_from_cfn_lints_provider_schemas():
    index = json.loads((SCHEMAS / "providers" / "eu-central-1.json").read_text())
    schema = json.loads((SCHEMAS / "resources" / f"{index['AWS::DynamoDB::Table']}.json").read_text())
    assert Path(cfnlint.__file__).parent in SCHEMAS.parents
    assert set(create_only("AWS::DynamoDB::Table")) == (
        {(p, False) for p in schema["createOnlyProperties"]}
        | {(p, True) for p in schema["conditionalCreateOnlyProperties"]}
    )
    # The schema: the table name always replaces the table; the key schema when it cannot change in place.
    assert ("/properties/TableName", False) in create_only("AWS::DynamoDB::Table")
    assert ("/properties/KeySchema", True) in create_only("AWS::DynamoDB::Table")
    assert ("/properties/Engine", True) in create_only("AWS::RDS::DBInstance")
    assert create_only("Custom::Anything") == ()


def test_a_key_schema_change_is_caught():
    new = _with(TABLE, KeySchema=[{"AttributeName": "trace_id", "KeyType": "HASH"}])
    _, verdict = _guard({"WorkflowStateTable": TABLE}, {"WorkflowStateTable": new})
    assert [(c.logical_id, c.action) for c in verdict.blocked] == [("WorkflowStateTable", MAY_BE_REPLACED)]
    text = report(verdict)
    for expected in (
        "FAIL",
        "TradaiProd",
        "Persistent (tradai-persistent-prod)",
        "WorkflowStateTable",
        "AWS::DynamoDB::Table",
        'KeySchema (conditionalCreateOnly): [{"AttributeName":"run_id"',
        '-> [{"AttributeName":"trace_id"',
        "UpdateReplacePolicy Retain",
        "orphaned",
    ):
        assert expected in text


def test_a_bucket_name_change_is_caught():
    _, verdict = _guard({"ResultsBucket": BUCKET}, {"ResultsBucket": _with(BUCKET, BucketName="tradai-results-x")})
    assert [c.action for c in verdict.blocked] == [REPLACED]
    assert 'BucketName (createOnly): "tradai-results-prod" -> "tradai-results-x"' in report(verdict)


def test_a_subnet_cidr_change_is_caught():
    old = {"Vpc": VPC, "Public1Subnet": SUBNET}
    _, verdict = _guard(old, {"Vpc": VPC, "Public1Subnet": _with(SUBNET, CidrBlock="10.0.9.0/24")}, stack="Foundation")
    assert [(c.logical_id, c.type) for c in verdict.blocked] == [("Public1Subnet", "AWS::EC2::Subnet")]
    assert 'CidrBlock (createOnly): "10.0.1.0/24" -> "10.0.9.0/24"' in report(verdict)


def test_a_replaced_vpc_replaces_the_subnets_that_reference_it():
    _, verdict = _guard(
        {"Vpc": VPC, "Public1Subnet": SUBNET},
        {"Vpc": _with(VPC, CidrBlock="10.1.0.0/16"), "Public1Subnet": SUBNET},
        stack="Foundation",
    )
    assert {(c.logical_id, c.action) for c in verdict.blocked} == {("Vpc", REPLACED), ("Public1Subnet", REPLACED)}
    assert "VpcId references Vpc, which is replaced" in report(verdict)


def test_a_reference_to_a_renamed_resource_is_a_change():
    renamed_subnet = _with(SUBNET, VpcId={"Ref": "NetworkVpc"})
    _, verdict = _guard(
        {"Vpc": VPC, "Public1Subnet": SUBNET}, {"NetworkVpc": VPC, "Public1Subnet": renamed_subnet}, stack="Foundation"
    )
    assert {(c.logical_id, c.action) for c in verdict.blocked} == {("Vpc", REMOVED), ("Public1Subnet", REPLACED)}
    assert 'VpcId (createOnly): {"Ref":"Vpc"} -> {"Ref":"NetworkVpc"}' in report(verdict)


def test_an_rds_engine_change_is_caught():
    _, verdict = _guard({"Database": DATABASE}, {"Database": _with(DATABASE, Engine="mysql")})
    assert [c.action for c in verdict.blocked] == [MAY_BE_REPLACED]
    text = report(verdict)
    assert 'Engine (conditionalCreateOnly): "postgres" -> "mysql"' in text
    assert "UpdateReplacePolicy Snapshot: the old one is deleted after a final snapshot" in text


def test_a_renamed_table_logical_id_is_a_deletion():
    _, verdict = _guard({"WorkflowStateTable": TABLE}, {"WorkflowStateTableV2": TABLE})
    assert [(c.logical_id, c.action) for c in verdict.blocked] == [("WorkflowStateTable", REMOVED)]
    assert "logical id removed (renamed? added with its type: WorkflowStateTableV2)" in report(verdict)
    assert "DeletionPolicy RetainExceptOnCreate: the old one is kept, orphaned" in report(verdict)


def test_a_deleted_secret_is_caught_and_its_data_loss_named():
    _, verdict = _guard({"BinanceApiSecret": SECRET, "ResultsBucket": BUCKET}, {"ResultsBucket": BUCKET})
    assert [(c.logical_id, c.type) for c in verdict.blocked] == [("BinanceApiSecret", "AWS::SecretsManager::Secret")]
    assert "DeletionPolicy Delete: the old one is deleted with its data" in report(verdict)


@pytest.mark.parametrize(
    "old, new",
    [
        (
            {"T": TABLE},
            {"T": _with(TABLE, Tags=[{"Key": "Environment", "Value": "prod"}, {"Key": "Owner", "Value": "x"}])},
        ),
        ({"T": TABLE}, {"T": _with(TABLE, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})}),
        ({"F": FUNCTION}, {"F": _with(FUNCTION, MemorySize=512)}),
        ({"T": TABLE}, {"T": TABLE, "ResultsBucket": BUCKET}),
    ],
    ids=["tag", "table-pitr", "lambda-memory", "added-resource"],
)
def test_harmless_changes_pass(old, new):
    changes, verdict = _guard(old, new)
    assert changes and not verdict.blocked
    assert report(verdict).startswith("OK")


def test_a_user_pool_rename_is_an_update_per_its_schema():
    pool = {"Type": "AWS::Cognito::UserPool", "Properties": {"UserPoolName": "tradai-users"}}
    changes, verdict = _guard({"UserPool": pool}, {"UserPool": _with(pool, UserPoolName="tradai-people")})
    assert [c.action for c in changes] == [MODIFIED] and not verdict.blocked


def test_an_override_allows_exactly_the_named_replacement_and_stale_ones_are_reported():
    overrides = parse_overrides(
        json.dumps(
            {
                "allowed": [
                    {
                        "stage": "TradaiProd",
                        "stack": "Persistent",
                        "logical_id": "ResultsBucket",
                        "reason": "rename, data copied",
                    },
                    {
                        "stage": "TradaiProd",
                        "stack": "Persistent",
                        "logical_id": "GoneTable",
                        "reason": "done long ago",
                    },
                ]
            }
        )
    )
    old = {"ResultsBucket": BUCKET, "WorkflowStateTable": TABLE}
    new = {
        "ResultsBucket": _with(BUCKET, BucketName="tradai-results-x"),
        "WorkflowStateTable": _with(TABLE, TableName="tradai-workflow-x"),
    }
    _, verdict = _guard(old, new, overrides)
    assert [c.logical_id for c in verdict.blocked] == ["WorkflowStateTable"]
    assert [(c.logical_id, o.reason) for c, o in verdict.allowed] == [("ResultsBucket", "rename, data copied")]
    assert verdict.stale == [overrides[1]]
    text = report(verdict)
    assert "override reason: rename, data copied" in text
    assert "Stale overrides" in text and "TradaiProd/Persistent/GoneTable: done long ago" in text


def test_an_override_without_a_reason_is_refused():
    with pytest.raises(ValueError, match="reason"):
        parse_overrides('{"allowed": [{"stage": "TradaiProd", "stack": "Persistent", "logical_id": "X"}]}')


def test_the_committed_override_file_is_valid():
    text = (Path(__file__).resolve().parents[1] / "review" / "allowed-replacements.json").read_text()
    assert all(isinstance(o, Override) for o in parse_overrides(text))


def _assembly(root: Path, resources: dict) -> Path:
    """A minimal cloud assembly: one stage with one stack, as cdk synth lays it out."""
    stage_dir = root / "assembly-TradaiProd"
    stage_dir.mkdir(parents=True)
    (stage_dir / "T.template.json").write_text(json.dumps({"Resources": resources}))
    (stage_dir / "manifest.json").write_text(
        json.dumps(
            {
                "artifacts": {
                    "T": {
                        "type": "aws:cloudformation:stack",
                        "displayName": "TradaiProd/Persistent",
                        "properties": {"templateFile": "T.template.json", "stackName": "tradai-persistent-prod"},
                    }
                }
            }
        )
    )
    (root / "manifest.json").write_text(
        json.dumps(
            {
                "artifacts": {
                    "assembly-TradaiProd": {
                        "type": "cdk:cloud-assembly",
                        "properties": {"directoryName": "assembly-TradaiProd"},
                    }
                }
            }
        )
    )
    return root


def test_the_command_line_exits_1_on_a_blocked_change_0_when_clean_2_on_a_bad_override(tmp_path, capsys):
    base = _assembly(tmp_path / "base", {"ResultsBucket": BUCKET})
    head = _assembly(tmp_path / "head", {"ResultsBucket": _with(BUCKET, BucketName="tradai-results-x")})
    none = tmp_path / "none.json"
    none.write_text('{"allowed": []}')
    sides = ["--base-dir", str(base), "--head-dir", str(head), "--overrides", str(none)]
    assert main(["guard", *sides]) == 1
    assert "ResultsBucket" in capsys.readouterr().out
    assert main(["guard", "--base-dir", str(base), "--head-dir", str(base), "--overrides", str(none)]) == 0
    none.write_text('{"allowed": [{"stage": "TradaiProd"}]}')
    assert main(["guard", *sides]) == 2


def test_the_real_templates_compared_with_themselves_pass(synthesized):
    stacks = {
        (stage_id(env), stack.capitalize()): Stack(stage_id(env), stack.capitalize(), f"tradai-{stack}-{env}", s.json)
        for (env, stack), s in synthesized.items()
    }
    changes = compare(stacks, copy.deepcopy(stacks))
    verdict = judge(changes, [])
    assert changes == [] and not verdict.blocked and not verdict.stale
