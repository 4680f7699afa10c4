"""`make preflight`: every bucket name of an environment is free or ours, else a clear early error (issue 15)."""

from __future__ import annotations

import io
import json

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import EndpointConnectionError
from moto import mock_aws

import spec
from tradai_cdk import preflight
from tradai_cdk.app import stage_id

REGION = "eu-central-1"
PROD_NAMES = [f"tradai-{c}-prod" for c in spec.BUCKETS]


@pytest.fixture
def aws(monkeypatch):
    """moto with fake credentials; yields a boto3 session like the caller's."""
    for key, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                       ("AWS_SESSION_TOKEN", "testing"), ("AWS_DEFAULT_REGION", REGION)):
        monkeypatch.setenv(key, value)
    with mock_aws():
        yield boto3.session.Session()


class HeadBucketAnswers:
    """Short-circuits HeadBucket of chosen names with an HTTP status (before-call hook); records every name asked."""

    def __init__(self, session, answers):
        self.answers, self.asked = answers, []
        session.events.register("before-parameter-build.s3.HeadBucket", self._remember)
        session.events.register("before-call.s3.HeadBucket", self._answer)

    def _remember(self, params, context, **_):
        context["bucket"] = params["Bucket"]
        self.asked.append(params["Bucket"])

    def _answer(self, context, **_):
        status = self.answers.get(context["bucket"])
        if status is None:
            return None  # moto answers
        if isinstance(status, Exception):
            raise status
        # HEAD responses have no body: botocore's error code is the status itself.
        return AWSResponse("https://s3.invalid", status, {}, None), {
            "Error": {"Code": str(status), "Message": "Forbidden"}, "ResponseMetadata": {"HTTPStatusCode": status}}


def _run(target, overrides=(), session=None, root=None):
    out, err = io.StringIO(), io.StringIO()
    kwargs = {"root": root} if root else {}
    code = preflight.run(target, overrides, session=session, out=out, err=err, **kwargs)
    return code, out.getvalue(), err.getvalue()


def test_stage_ids_are_the_apps():
    assert preflight.ENV_BY_STAGE == {stage_id(env): env for env in spec.ENVIRONMENTS}


def test_free_names_pass(aws):
    answers = HeadBucketAnswers(aws, {})
    code, out, err = _run("TradaiProd", session=aws)
    assert code == 0, err
    assert answers.asked == PROD_NAMES
    assert out.count(": free") == len(PROD_NAMES) and "TAKEN" not in out and err == ""


def test_our_buckets_from_an_earlier_deploy_pass(aws):
    s3 = aws.client("s3", region_name=REGION)
    for name in PROD_NAMES[:2]:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    code, out, _ = _run("prod", session=aws)
    assert code == 0
    assert out.count("exists in this account") == 2 and out.count(": free") == len(PROD_NAMES) - 2


def test_a_name_held_by_another_account_fails_naming_it_and_the_override(aws):
    HeadBucketAnswers(aws, {"tradai-results-prod": 403, "tradai-logs-prod": 403})
    code, out, err = _run("TradaiProd", session=aws)
    assert code == 1
    assert "TAKEN  tradai-results-prod" in out and "TAKEN  tradai-logs-prod" in out
    assert "2 of 5 bucket names of TradaiProd belong to another AWS account" in err
    assert "tradai-results-prod" in err and "tradai-logs-prod" in err and "tradai-configs-prod" not in err
    assert "-c bucket_suffix=<something>" in err and "naming.bucket_suffix" in err
    assert '"bucket_suffix": {"prod": "<something>"}' in err
    assert "make preflight STAGE=TradaiProd BUCKET_SUFFIX=<something>" in err


def test_the_suffix_context_is_what_gets_checked(aws):
    answers = HeadBucketAnswers(aws, {"tradai-results-prod": 403})
    code, out, err = _run("TradaiProd", ["bucket_suffix=acme-1", "image_tag=0a1b2c3"], session=aws)
    assert code == 0, err
    assert answers.asked == [f"{name}-acme-1" for name in PROD_NAMES]


def test_a_per_environment_suffix_in_cdk_json(aws, tmp_path):
    (tmp_path / "cdk.json").write_text(json.dumps({"context": {"bucket_suffix": {"prod": "acme-1"}}}))
    answers = HeadBucketAnswers(aws, {})
    assert _run("TradaiProd", session=aws, root=tmp_path)[0] == 0
    assert _run("TradaiDev", session=aws, root=tmp_path)[0] == 0
    assert answers.asked == [f"{name}-acme-1" for name in PROD_NAMES] + [f"tradai-{c}-dev" for c in spec.BUCKETS]


def test_a_bad_suffix_is_reported_before_any_aws_call(aws):
    answers = HeadBucketAnswers(aws, {})
    code, _, err = _run("TradaiProd", ["bucket_suffix=Bad_Suffix"], session=aws)
    assert code == 2 and answers.asked == []
    assert "context bucket_suffix = 'Bad_Suffix'" in err and "lowercase letters, digits and hyphens" in err


def test_no_credentials_exit_2(monkeypatch, tmp_path):
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
                "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    code, out, err = _run("TradaiProd", session=boto3.session.Session())
    assert code == 2 and out == ""
    assert "no usable AWS credentials" in err and "Unable to locate credentials" in err


def test_network_and_other_errors_exit_2(aws):
    HeadBucketAnswers(aws, {"tradai-arcticdb-prod": EndpointConnectionError(endpoint_url="https://s3.invalid")})
    code, _, err = _run("TradaiProd", session=aws)
    assert code == 2 and "HeadBucket tradai-arcticdb-prod" in err and "Could not connect" in err
    other = boto3.session.Session()
    HeadBucketAnswers(other, {"tradai-arcticdb-prod": 500})
    code, _, err = _run("TradaiProd", session=other)
    assert code == 2 and "HeadBucket tradai-arcticdb-prod" in err and "(500)" in err


def test_unknown_environment_and_malformed_context_exit_2():
    assert _run("TradaiQa")[0] == 2
    code, _, err = _run("prod", ["bucket_suffix"])
    assert code == 2 and "expected KEY=VALUE" in err


def test_main_parses_stage_and_context(monkeypatch):
    calls = []
    monkeypatch.setattr(preflight, "run", lambda target, overrides: calls.append((target, overrides)) or 0)
    assert preflight.main(["TradaiProd", "-c", "bucket_suffix=acme-1", "-c", "image_tag=abc"]) == 0
    assert calls == [("TradaiProd", ["bucket_suffix=acme-1", "image_tag=abc"])]
