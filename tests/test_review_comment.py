"""The pull request's review comment on small template pairs, and the pull-request workflow's YAML."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from tradai_cdk.review.changes import Stack, compare
from tradai_cdk.review.comment import LIMIT, MARKER, SECTIONS, cap, render, section_of
from tradai_cdk.review.guard import judge

WORKFLOW = Path(__file__).resolve().parents[1] / ".github" / "workflows" / "pull-request.yml"
STAGES = ("TradaiDev", "TradaiProd")
TABLE = {"Type": "AWS::DynamoDB::Table", "Properties": {"TableName": "tradai-trading-state-prod"}}
POLICY = {
    "Type": "AWS::IAM::Policy",
    "Properties": {
        "PolicyName": "p",
        "PolicyDocument": {"Statement": [{"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*"}]},
    },
}
KEY = {"Type": "AWS::KMS::Key", "Properties": {"KeyPolicy": {"Statement": []}, "Description": "logs"}}
INGRESS = {
    "Type": "AWS::EC2::SecurityGroupIngress",
    "Properties": {"GroupId": "sg-1", "FromPort": 5432, "ToPort": 5432, "IpProtocol": "tcp"},
}
FUNCTION = {"Type": "AWS::Lambda::Function", "Properties": {"MemorySize": 256}}


def _comment(old: dict, new: dict, extra=()) -> str:
    """The uncapped comment for prod's persistent stack going from ``old`` to ``new`` (dev unchanged)."""

    def side(resources):
        return {
            (stage, "Persistent"): Stack(
                stage, "Persistent", "tradai-persistent", {"Resources": resources if stage == "TradaiProd" else old}
            )
            for stage in STAGES
        }

    changes = compare(side(old), side(new))
    return render(changes, judge(changes, []), STAGES, "Infrastructure review", extra)


def test_the_comment_leads_with_replacements_then_iam_then_security_groups_then_the_rest():
    old = {"Table": TABLE, "Policy": POLICY, "Key": KEY, "Ingress": INGRESS, "Function": FUNCTION}
    new = {
        "Table": {**TABLE, "Properties": {"TableName": "tradai-trading-x"}},
        "Policy": {
            **POLICY,
            "Properties": {
                **POLICY["Properties"],
                "PolicyDocument": {"Statement": [{"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}]},
            },
        },
        "Key": {**KEY, "Properties": {**KEY["Properties"], "KeyPolicy": {"Statement": [{"Effect": "Allow"}]}}},
        "Ingress": {**INGRESS, "Properties": {**INGRESS["Properties"], "FromPort": 22}},
        "Function": {**FUNCTION, "Properties": {"MemorySize": 512}},
        "Topic": {"Type": "AWS::SNS::Topic"},
    }
    body = _comment(old, new)
    prod = body[body.index("### TradaiProd") :]
    headings = [prod.index(f"#### {name} (") for name in SECTIONS]
    assert headings == sorted(headings)
    replaced, iam, groups, rest = (prod[start:end] for start, end in zip(headings, [*headings[1:], len(prod)]))
    assert "`Table`" in replaced and "❌ blocked" in replaced and "TableName (createOnly)" in replaced
    assert "Policy" in iam and "Key" in iam  # a key policy is IAM
    assert '-   PolicyDocument.Statement[]: {"Action":"dynamodb:GetItem"' in iam
    assert '+   PolicyDocument.Statement[]: {"Action":"dynamodb:*"' in iam
    assert "-   FromPort: 5432" in groups and "+   FromPort: 22" in groups
    assert "modified: MemorySize" in rest and "| `Topic` | AWS::SNS::Topic | added |" in rest
    assert "### TradaiDev\n\nNo changes." in body
    assert "Stateful-change guard: ❌ failed" in body


def test_a_removed_role_leads_as_a_deletion_a_removed_policy_shows_under_iam():
    role = {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {}}}
    changes = compare(
        {("S", "A"): Stack("S", "A", "a", {"Resources": {"Policy": POLICY, "Role": role}})},
        {("S", "A"): Stack("S", "A", "a", {"Resources": {}})},
    )
    assert [(c.logical_id, section_of(c)) for c in changes] == [("Policy", "IAM"), ("Role", "Replaced or deleted")]


def test_no_changes():
    body = _comment({"Table": TABLE}, {"Table": TABLE})
    assert body.startswith(MARKER + "\n")
    assert "No resource differs between base and head in any stage." in body
    assert "Stateful-change guard: ✅ passed" in body


def test_extra_sections_are_appended():
    body = _comment({"Table": TABLE}, {"Table": TABLE}, ["## Cost change\n\n+$3.10/month\n"])
    assert body.rstrip().endswith("## Cost change\n\n+$3.10/month")


def test_a_comment_over_githubs_limit_is_cut_at_the_tail_with_a_note():
    old = {f"Policy{i}": POLICY for i in range(400)}
    new = {
        f"Policy{i}": {
            **POLICY,
            "Properties": {
                **POLICY["Properties"],
                "PolicyDocument": {
                    "Statement": [{"Effect": "Allow", "Action": f"s3:GetObject{'x' * 200}{i}", "Resource": "*"}]
                },
            },
        }
        for i in range(400)
    }
    body = _comment(old, new, ["<details><summary>cdk diff</summary>\n\n```\n" + "line\n" * 20000 + "```\n</details>"])
    capped = cap(body)
    assert len(body) > LIMIT >= len(capped)
    assert capped.startswith(MARKER) and "**Truncated**" in capped.splitlines()[-1]
    assert capped.count("```") % 2 == 0
    assert cap("short") == "short"


def _workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def test_every_action_is_pinned_to_a_commit_sha_with_its_version():
    uses = re.findall(r"^\s*(?:- )?uses: (\S+)(.*)$", WORKFLOW.read_text(), re.MULTILINE)
    assert uses
    for action, comment in uses:
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", action), action
        assert re.fullmatch(r"\s+# v\d+\.\d+\.\d+", comment), f"{action}: no version comment"


def test_permissions_are_least_per_job():
    workflow = _workflow()
    assert workflow["permissions"] == {}
    assert "pull_request" in workflow[True]  # PyYAML reads the key `on` as True
    assert "github.event.pull_request.number" in workflow["concurrency"]["group"]
    jobs = workflow["jobs"]
    for name, job in jobs.items():
        assert job["permissions"]["contents"] == "read", name
        steps = " ".join(str(step) for step in job["steps"])
        assert ("id-token" in job["permissions"]) == ("configure-aws-credentials" in steps), name
        assert ("pull-requests" in job["permissions"]) == ("gh api" in steps), name
        assert set(job["permissions"].values()) <= {"read", "write"}


def test_the_review_job_runs_the_guard_on_both_synths_and_posts_one_marked_comment():
    steps = _workflow()["jobs"]["review"]["steps"]
    runs = [step.get("run", "") for step in steps]
    checkout = steps[0]
    assert checkout["with"]["fetch-depth"] == 0
    assert any('tradai_cdk.review synth "$BASE_SHA"' in r for r in runs)
    assert any("tradai_cdk.review synth WORKTREE" in r for r in runs)
    assert "tradai_cdk.review guard --base-dir review-out/base --head-dir review-out/head" in runs[-1]
    assert any(MARKER in r and "--method PATCH" in r for r in runs)
    assert any("make --silent --no-print-directory cost" in r for r in runs)
    checks = [step.get("run", "") for step in _workflow()["jobs"]["checks"]["steps"]]
    assert {"make install", "make lint", "make test"} <= set(checks)
