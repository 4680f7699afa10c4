"""The MLflow REST client (ml_lifecycle.mlflow) against the FakeMlflow stand-in."""

from __future__ import annotations

import base64
import json

import pytest

from local_emulator.fake_mlflow import FakeMlflow
from ml_lifecycle import contract
from ml_lifecycle.mlflow import Mlflow, MlflowError, MlflowUnavailable, client_from_env, is_transient, tags
from shared.settings import SettingsError

from .conftest import REGION
from .ml_fixtures import ACCOUNT, cold_start, fake_mlflow  # noqa: F401

PREFIX = "/mlflow/api/2.0/mlflow/"


@pytest.fixture
def client(fake_mlflow) -> Mlflow:
    return Mlflow(fake_mlflow.base_url, timeout=5)


def test_registered_models_are_read_across_pages(fake_mlflow, client):
    for name in ("alpha", "beta", "gamma", "delta", "epsilon"):
        fake_mlflow.add_model(name, {contract.MODEL_TAG_STRATEGY: name.capitalize()})
    client.page_size = 2

    models = client.registered_models()

    assert [model["name"] for model in models] == ["alpha", "beta", "delta", "epsilon", "gamma"]
    assert tags(models[0]) == {"strategy": "Alpha"}
    assert fake_mlflow.requests == [("GET", PREFIX + "registered-models/search")] * 3


def test_no_registered_models_is_an_empty_list(client):
    assert client.registered_models() == []


def test_versions_are_read_across_pages_for_that_model_only(fake_mlflow, client):
    run_id = fake_mlflow.add_run("training", {"sharpe": 1.0})
    for _ in range(3):
        fake_mlflow.add_version("momentum", run_id, {contract.VERSION_TAG_JOB_ID: "r-1"})
    fake_mlflow.add_version("other", run_id)
    client.page_size = 2

    versions = client.versions("momentum")

    assert sorted(version["version"] for version in versions) == ["1", "2", "3"]
    assert {version["name"] for version in versions} == {"momentum"}
    assert tags(versions[0]) == {"job_id": "r-1"}


def test_model_names_with_quotes_are_filtered_safely(fake_mlflow, client):
    fake_mlflow.add_version("it's", fake_mlflow.add_run("training", {}))

    assert [version["version"] for version in client.versions("it's")] == ["1"]


def test_alias_round_trip_and_missing_alias_is_none(fake_mlflow, client):
    run_id = fake_mlflow.add_run("training", {"sharpe": 1.0})
    first, second = fake_mlflow.add_version("momentum", run_id), fake_mlflow.add_version("momentum", run_id)

    assert client.version_by_alias("momentum", "champion") is None
    assert client.version_by_alias("no-such-model", "champion") is None

    client.set_alias("momentum", "champion", first)
    client.set_alias("momentum", "champion", int(second))  # moves it; ints are accepted

    champion = client.version_by_alias("momentum", "champion")
    assert (champion["version"], champion["run_id"], champion["aliases"]) == ("2", run_id, ["champion"])
    assert client.model("momentum")["aliases"] == [{"alias": "champion", "version": "2"}]
    assert fake_mlflow.alias("momentum", "champion") == "2"


def test_set_alias_on_a_missing_version_is_a_permanent_error(fake_mlflow, client):
    fake_mlflow.add_model("momentum")

    with pytest.raises(MlflowError) as raised:
        client.set_alias("momentum", "champion", "7")

    assert (raised.value.status, raised.value.error_code) == (404, "RESOURCE_DOES_NOT_EXIST")
    assert not is_transient(raised.value) and not isinstance(raised.value, MlflowUnavailable)


def test_version_tags_and_version_get(fake_mlflow, client):
    version = fake_mlflow.add_version("momentum", fake_mlflow.add_run("training", {}))

    client.set_version_tag("momentum", version, contract.VERSION_TAG_PREVIOUS_CHAMPION, 3)

    assert tags(client.version("momentum", version)) == {contract.VERSION_TAG_PREVIOUS_CHAMPION: "3"}
    with pytest.raises(MlflowError, match="RESOURCE_DOES_NOT_EXIST") as raised:
        client.version("momentum", "9")
    assert raised.value.status == 404


def test_unknown_model_is_resource_does_not_exist(client):
    with pytest.raises(MlflowError) as raised:
        client.model("nope")

    assert raised.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert "registered-models/get" in str(raised.value)


def test_run_metric(fake_mlflow, client):
    run_id = fake_mlflow.add_run("training", {"sharpe": 1.25, "sortino": 2})

    assert client.run_metric(run_id, "sharpe") == 1.25
    assert client.run_metric(run_id, "sortino") == 2.0
    assert client.run_metric(run_id, "calmar") is None
    assert client.run_metric(fake_mlflow.add_run("training", {}), "sharpe") is None


def test_runs_tagged_finds_the_experiment_runs_with_the_tag(fake_mlflow, client):
    wanted = fake_mlflow.add_run("shadow", {"sharpe": 1.0}, tags={contract.RUN_TAG_JOB_ID: "t-1"})
    fake_mlflow.add_run("shadow", {"sharpe": 2.0}, tags={contract.RUN_TAG_JOB_ID: "t-2"})
    fake_mlflow.add_run("training", {"sharpe": 3.0}, tags={contract.RUN_TAG_JOB_ID: "t-1"})
    fake_mlflow.add_run("shadow", {}, tags={"my-tag": "x"})

    runs = client.runs_tagged("shadow", contract.RUN_TAG_JOB_ID, "t-1")

    assert [run["info"]["run_id"] for run in runs] == [wanted]
    assert tags(runs[0]) == {"job_id": "t-1"}
    assert len(client.runs_tagged("shadow", "my-tag", "x")) == 1  # backtick-quoted key
    assert client.runs_tagged("no-such-experiment", "job_id", "t-1") == []


def test_runs_tagged_pages(fake_mlflow, client):
    for _ in range(5):
        fake_mlflow.add_run("shadow", {}, tags={"job_id": "t-1"})
    client.page_size = 2

    assert len(client.runs_tagged("shadow", "job_id", "t-1")) == 5
    assert fake_mlflow.requests.count(("POST", PREFIX + "runs/search")) == 3


@pytest.mark.parametrize("status, code", [(429, "REQUEST_LIMIT_EXCEEDED"), (500, "INTERNAL_ERROR"),
                                          (503, "TEMPORARILY_UNAVAILABLE"), (504, "DEADLINE_EXCEEDED")])
def test_429_and_5xx_are_transient(fake_mlflow, client, status, code):
    fake_mlflow.fail_next(status)

    with pytest.raises(MlflowUnavailable) as raised:
        client.registered_models()

    assert (raised.value.status, raised.value.error_code) == (status, code)
    assert is_transient(raised.value) and type(raised.value).__name__ == contract.MLFLOW_UNAVAILABLE_ERROR
    assert client.registered_models() == []  # the next call is answered normally


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_4xx_are_permanent(fake_mlflow, client, status):
    fake_mlflow.fail_next(status)

    with pytest.raises(MlflowError) as raised:
        client.model("momentum")

    assert raised.value.status == status and not is_transient(raised.value)


def test_alias_lookup_does_not_hide_transient_errors(fake_mlflow, client):
    fake_mlflow.fail_next(503)

    with pytest.raises(MlflowUnavailable):
        client.version_by_alias("momentum", "champion")


def test_a_server_that_is_down_is_transient():
    fake = FakeMlflow()
    base_url = fake.start()
    fake.stop()

    with pytest.raises(MlflowUnavailable) as raised:
        Mlflow(base_url, timeout=2).registered_models()

    assert raised.value.status is None and raised.value.error_code == "CONNECTION_ERROR"
    assert is_transient(raised.value)


def test_an_answer_that_is_not_mlflow_json_is_permanent(fake_mlflow):
    with pytest.raises(MlflowError, match="ENDPOINT_NOT_FOUND") as raised:
        Mlflow(fake_mlflow.base_url.removesuffix("/mlflow")).registered_models()  # prefix missing

    assert not is_transient(raised.value)


def test_basic_auth_header_is_sent_when_credentials_are_set():
    fake = FakeMlflow(credentials=("tradai", "s3cret"))
    base_url = fake.start()
    try:
        with pytest.raises(MlflowError) as raised:
            Mlflow(base_url).registered_models()
        assert raised.value.status == 401 and not is_transient(raised.value)

        fake.add_model("momentum")
        assert [model["name"] for model in Mlflow(base_url, ("tradai", "s3cret")).registered_models()] == ["momentum"]
        expected = "Basic " + base64.b64encode(b"tradai:s3cret").decode()
        assert fake.authorizations == [None, expected]
        assert "s3cret" not in repr(Mlflow(base_url, ("tradai", "s3cret")))
    finally:
        fake.stop()


def test_tags_helper_accepts_models_versions_runs_and_missing_tags():
    assert tags({"name": "m"}) == {}
    assert tags(None) == {}
    assert tags({"tags": [{"key": "a", "value": "1"}, {"key": "b"}]}) == {"a": "1", "b": ""}
    assert tags({"info": {}, "data": {"tags": [{"key": "job_id", "value": "x"}]}}) == {"job_id": "x"}


# --- client_from_env --------------------------------------------------------------------------------------------

def test_client_from_env_without_a_secret(fake_mlflow, cold_start):
    client = client_from_env({contract.ENV_MLFLOW_TRACKING_URI: fake_mlflow.base_url + "/"})

    assert client.base_url == fake_mlflow.base_url
    assert client.registered_models() == []
    assert fake_mlflow.authorizations == [None]


@pytest.mark.parametrize("env, name", [
    ({}, contract.ENV_MLFLOW_TRACKING_URI),
    ({contract.ENV_MLFLOW_TRACKING_URI: "mlflow.tradai-dev.local:5000"}, contract.ENV_MLFLOW_TRACKING_URI),
    ({contract.ENV_MLFLOW_TRACKING_URI: "http://mlflow.tradai-dev.local:5000/mlflow",
      contract.ENV_MLFLOW_CREDENTIALS_SECRET_ARN: "mlflow-credentials"}, contract.ENV_MLFLOW_CREDENTIALS_SECRET_ARN),
])
def test_client_from_env_rejects_bad_settings(cold_start, env, name):
    with pytest.raises(SettingsError, match=f"^configuration error: {name}="):
        client_from_env(env)


def secret(aws, value) -> str:
    return aws.client("secretsmanager").create_secret(
        Name="tradai/dev/mlflow-credentials", SecretString=value if isinstance(value, str) else json.dumps(value)
    )["ARN"]


def test_client_from_env_reads_the_credentials_secret_once(aws, cold_start):
    arn = secret(aws, {"username": "tradai", "password": "s3cret"})
    reads = []
    aws.events.register("before-call.secrets-manager.GetSecretValue", lambda **_: reads.append(1))
    fake = FakeMlflow(credentials=("tradai", "s3cret"))
    env = {contract.ENV_MLFLOW_TRACKING_URI: fake.start(), contract.ENV_MLFLOW_CREDENTIALS_SECRET_ARN: arn}
    try:
        fake.add_model("momentum")
        assert [m["name"] for m in client_from_env(env).registered_models()] == ["momentum"]
        assert [m["name"] for m in client_from_env(env).registered_models()] == ["momentum"]
    finally:
        fake.stop()
    assert len(reads) == 1  # cached per cold start


@pytest.mark.parametrize("value", [
    "not json", {"username": "tradai"}, ["tradai", "s3cret"], {"username": "", "password": "s3cret"},
])
def test_a_malformed_secret_is_a_settings_error(aws, cold_start, value):
    env = {contract.ENV_MLFLOW_TRACKING_URI: "http://mlflow.tradai-dev.local:5000/mlflow",
           contract.ENV_MLFLOW_CREDENTIALS_SECRET_ARN: secret(aws, value)}

    with pytest.raises(SettingsError, match=contract.ENV_MLFLOW_CREDENTIALS_SECRET_ARN) as raised:
        client_from_env(env)
    assert "s3cret" not in str(raised.value)


def test_a_missing_secret_is_a_settings_error(aws, cold_start):
    arn = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:tradai/dev/missing-AbCdEf"
    env = {contract.ENV_MLFLOW_TRACKING_URI: "http://mlflow.tradai-dev.local:5000/mlflow",
           contract.ENV_MLFLOW_CREDENTIALS_SECRET_ARN: arn}

    with pytest.raises(SettingsError, match="ResourceNotFoundException"):
        client_from_env(env)
