"""A small MLflow tracking/registry client over urllib (MLflow 2.x REST API 2.0).

``MLFLOW_TRACKING_URI`` includes the path prefix the ALB routes to MLflow (e.g.
http://mlflow.tradai-dev.local:5000/mlflow); requests go to ``{base}/api/2.0/mlflow/<endpoint>``. When
``MLFLOW_CREDENTIALS_SECRET_ARN`` is set, its JSON {"username", "password"} is sent as HTTP basic auth; the
secret is read once per cold start.

Methods return the plain dicts MLflow returns (versions are strings, e.g. "3"; tags are [{key, value}],
see ``tags``). Every failure is an ``MlflowError``: ``status`` is the HTTP status (None when no response
arrived) and ``error_code`` MLflow's JSON error_code (e.g. RESOURCE_DOES_NOT_EXIST). The client does not
retry: ``is_transient`` tells callers which errors to re-raise for a later attempt (Step Functions Retry,
Lambda async retry); every method is safe to repeat. Transient errors are raised as ``MlflowUnavailable`` (a
subclass), so a state machine can retry on that error name alone.
"""

from __future__ import annotations

import base64
import functools
import http.client
import json
import os
import re
import socket
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from typing import Any

from botocore.exceptions import ClientError

from shared import settings as env_
from shared.aws import cached_client, error_code

from . import contract

__all__ = [
    "RESOURCE_DOES_NOT_EXIST",
    "Mlflow",
    "MlflowError",
    "MlflowUnavailable",
    "client",
    "client_from_env",
    "is_transient",
    "ready_version",
    "tags",
]

RESOURCE_DOES_NOT_EXIST = "RESOURCE_DOES_NOT_EXIST"
CONNECTION_ERROR = "CONNECTION_ERROR"  # error_code of an MlflowError without an HTTP response
INVALID_RESPONSE = "INVALID_RESPONSE"  # a 2xx answer that is not MLflow's JSON (wrong URL prefix?)
TRANSIENT_CODES = frozenset(
    {
        "TEMPORARILY_UNAVAILABLE",
        "REQUEST_LIMIT_EXCEEDED",
        "INTERNAL_ERROR",
        "DEADLINE_EXCEEDED",
        "ABORTED",
        CONNECTION_ERROR,
    }
)
URL = env_.HTTP_ORIGIN + r"(/[^\s?#]*)?"
SECRET_ARN = r"arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]{1,512}"
PAGE_SIZE = 100
MAX_PAGES = 1000  # a runaway next_page_token stops here


class MlflowError(Exception):
    """An MLflow call that failed: HTTP ``status`` (None: no response) and MLflow's ``error_code``."""

    def __init__(self, message: str, status: int | None = None, error_code: str | None = None):
        super().__init__(message)
        self.status, self.error_code = status, error_code


class MlflowUnavailable(MlflowError):
    """A transient MlflowError (no response, HTTP 429 or 5xx): worth another attempt."""


NETWORK_ERRORS = (urllib.error.URLError, http.client.HTTPException, TimeoutError, ConnectionError, socket.timeout)


def _transient(status: int | None, code: str | None) -> bool:
    return status is None or status == 429 or status >= 500 or code in TRANSIENT_CODES


def _error(message: str, status: int | None, code: str | None) -> MlflowError:
    return (MlflowUnavailable if _transient(status, code) else MlflowError)(message, status, code)


def is_transient(exc: BaseException) -> bool:
    """Connection errors, timeouts, HTTP 429 and 5xx: worth another attempt, not a verdict."""
    if isinstance(exc, MlflowError):
        return _transient(exc.status, exc.error_code)
    return isinstance(exc, NETWORK_ERRORS)


def tags(entity: Mapping[str, Any] | None) -> dict[str, str]:
    """The tags of a registered model, model version or run as a dict (MLflow sends [{key, value}])."""
    if not entity:
        return {}
    found = entity.get("tags")
    if found is None:
        found = (entity.get("data") or {}).get("tags")
    if isinstance(found, dict):
        return {str(k): str(v) for k, v in found.items()}
    return {tag["key"]: tag.get("value", "") for tag in found or () if "key" in tag}


def ready_version(client: Mlflow, name: str, version: str, field: str) -> dict:
    """Version ``version`` of model ``name``; ValueError naming the request's ``field`` when the model has no
    such version or it is not READY (other MLflow errors propagate)."""
    try:
        found = client.version(name, version)
    except MlflowError as exc:
        if exc.error_code == RESOURCE_DOES_NOT_EXIST:
            raise ValueError(f"{field}={version!r}: model {name!r} has no such version") from None
        raise
    status = found.get("status", "READY")
    if status != "READY":
        raise ValueError(f"{field}={version!r}: status {status}, READY is required")
    return found


def _quoted(value: str, field: str) -> str:
    """A string literal for an MLflow search filter."""
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    raise ValueError(f"{field}={value!r}: cannot hold both quote characters in an MLflow filter")


def _identifier(key: str) -> str:
    """An MLflow filter identifier; backticks when the key is not a plain word."""
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
        return key
    if "`" in key:
        raise ValueError(f"tag={key!r}: a backtick cannot appear in an MLflow filter key")
    return f"`{key}`"


class Mlflow:
    """The MLflow endpoints the ML lifecycle functions use."""

    def __init__(self, base_url: str, auth: tuple[str, str] | None = None, timeout: float = 10):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.page_size = PAGE_SIZE
        self._authorization = None
        if auth is not None:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")
            self._authorization = f"Basic {token}"

    def __repr__(self) -> str:  # never shows the credentials
        return f"Mlflow({self.base_url!r}, auth={'set' if self._authorization else None})"

    # --- registered models -------------------------------------------------------------------------------

    def registered_models(self) -> list[dict]:
        """Every registered model (registered-models/search, all pages)."""
        return list(self._pages("GET", "registered-models/search", {}, "registered_models"))

    def model(self, name: str) -> dict:
        """registered-models/get; MlflowError RESOURCE_DOES_NOT_EXIST when there is no such model."""
        return self._call("GET", "registered-models/get", {"name": name})["registered_model"]

    def version_by_alias(self, name: str, alias: str) -> dict | None:
        """The model version carrying ``alias``; None when the alias (or the model) does not exist."""
        try:
            return self._call("GET", "registered-models/alias", {"name": name, "alias": alias})["model_version"]
        except MlflowError as exc:
            if exc.error_code == RESOURCE_DOES_NOT_EXIST:
                return None
            raise

    def set_alias(self, name: str, alias: str, version: str | int) -> None:
        """Point ``alias`` at ``version`` (moves it from any other version; repeating it changes nothing)."""
        self._call("POST", "registered-models/alias", {"name": name, "alias": alias, "version": str(version)})

    # --- model versions ----------------------------------------------------------------------------------

    def versions(self, name: str) -> list[dict]:
        """Every version of the model (model-versions/search with filter name='...', all pages)."""
        query = {"filter": f"name={_quoted(name, 'model_name')}"}
        return list(self._pages("GET", "model-versions/search", query, "model_versions"))

    def version(self, name: str, version: str | int) -> dict:
        """model-versions/get; MlflowError RESOURCE_DOES_NOT_EXIST when there is no such version."""
        return self._call("GET", "model-versions/get", {"name": name, "version": str(version)})["model_version"]

    def set_version_tag(self, name: str, version: str | int, key: str, value: str) -> None:
        self._call(
            "POST", "model-versions/set-tag", {"name": name, "version": str(version), "key": key, "value": str(value)}
        )

    # --- runs --------------------------------------------------------------------------------------------

    def run(self, run_id: str) -> dict:
        """runs/get: {"info": {...}, "data": {"metrics": [...], "params": [...], "tags": [...]}}."""
        return self._call("GET", "runs/get", {"run_id": run_id})["run"]

    def run_metric(self, run_id: str, key: str) -> float | None:
        """The run's latest value of metric ``key``; None when the run has no such metric."""
        for metric in (self.run(run_id).get("data") or {}).get("metrics") or ():
            if metric.get("key") == key and metric.get("value") is not None:
                return float(metric["value"])
        return None

    def runs_tagged(self, experiment_name: str, tag: str, value: str) -> list[dict]:
        """The experiment's runs whose tag ``tag`` equals ``value``; [] when the experiment does not exist."""
        try:
            experiment = self._call("GET", "experiments/get-by-name", {"experiment_name": experiment_name})
        except MlflowError as exc:
            if exc.error_code == RESOURCE_DOES_NOT_EXIST:
                return []
            raise
        body = {
            "experiment_ids": [experiment["experiment"]["experiment_id"]],
            "filter": f"tags.{_identifier(tag)} = {_quoted(value, 'tag value')}",
        }
        return list(self._pages("POST", "runs/search", body, "runs"))

    # --- transport ---------------------------------------------------------------------------------------

    def _pages(self, method: str, endpoint: str, params: dict[str, Any], field: str) -> Iterator[dict]:
        token, seen = None, set()
        for _ in range(MAX_PAGES):
            page = dict(params, max_results=self.page_size, **({"page_token": token} if token else {}))
            answer = self._call(method, endpoint, page)
            yield from answer.get(field) or ()
            token = answer.get("next_page_token")
            if not token:
                return
            if token in seen:
                raise MlflowError(f"MLflow {endpoint}: next_page_token {token!r} repeats", 200, INVALID_RESPONSE)
            seen.add(token)
        raise MlflowError(f"MLflow {endpoint}: more than {MAX_PAGES} pages", 200, INVALID_RESPONSE)

    def _call(self, method: str, endpoint: str, params: dict[str, Any]) -> dict:
        url = f"{self.base_url}/api/2.0/mlflow/{endpoint}"
        data = None
        headers = {"Accept": "application/json"}
        if method == "GET":
            url += "?" + urllib.parse.urlencode(params)
        else:
            data = json.dumps(params).encode()
            headers["Content-Type"] = "application/json"
        if self._authorization:
            headers["Authorization"] = self._authorization
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        where = f"MLflow {method} {endpoint}"
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as exc:
            raise _http_error(where, exc.code, exc.read()) from None
        except NETWORK_ERRORS as exc:
            reason = getattr(exc, "reason", exc)
            raise _error(f"{where}: no response from {self.base_url}: {reason}", None, CONNECTION_ERROR) from exc
        try:
            answer = json.loads(raw or b"{}")
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise MlflowError(
                f"{where}: HTTP {status} answer is not MLflow JSON (is the URL prefix right?)", status, INVALID_RESPONSE
            )
        return answer


def _http_error(where: str, status: int, raw: bytes) -> MlflowError:
    try:
        body = json.loads(raw)
    except ValueError:
        body = None
    if isinstance(body, dict):
        code, message = body.get("error_code"), body.get("message", "")
    else:
        code, message = None, raw[:200].decode("utf-8", "replace").strip()
    return _error(
        " ".join(part for part in (f"{where}: HTTP {status}", code and f"{code}:", message) if part), status, code
    )


@functools.cache
def _credentials(secret_arn: str) -> tuple[str, str]:
    """The basic-auth pair of the secret (cached per cold start); AWS errors propagate as botocore raises them."""
    allowed = 'a Secrets Manager secret holding JSON {"username": ..., "password": ...}'
    try:
        text = cached_client("secretsmanager").get_secret_value(SecretId=secret_arn).get("SecretString") or ""
    except ClientError as exc:
        if error_code(exc) in ("ResourceNotFoundException", "AccessDeniedException", "DecryptionFailure"):
            raise env_.SettingsError(
                contract.ENV_MLFLOW_CREDENTIALS_SECRET_ARN, secret_arn, f"{allowed} ({error_code(exc)})"
            ) from exc
        raise
    try:
        value = json.loads(text)
        username, password = value["username"], value["password"]
    except (ValueError, KeyError, TypeError):
        raise env_.SettingsError(contract.ENV_MLFLOW_CREDENTIALS_SECRET_ARN, secret_arn, allowed) from None
    if not (isinstance(username, str) and isinstance(password, str) and username):
        raise env_.SettingsError(contract.ENV_MLFLOW_CREDENTIALS_SECRET_ARN, secret_arn, allowed)
    return username, password


def client_from_env(env: env_.Env) -> Mlflow:
    """The client for MLFLOW_TRACKING_URI, with basic auth from MLFLOW_CREDENTIALS_SECRET_ARN when set.

    SettingsError names a missing/invalid variable (or an unreadable/malformed secret); callers cache the
    client per cold start (the secret is cached per ARN regardless).
    """
    base_url = env_.required(
        env,
        contract.ENV_MLFLOW_TRACKING_URI,
        URL,
        "an http(s) URL with the MLflow path prefix, e.g. http://mlflow.tradai-dev.local:5000/mlflow",
    )
    secret_arn = env_.optional(
        env,
        contract.ENV_MLFLOW_CREDENTIALS_SECRET_ARN,
        "",
        SECRET_ARN,
        "a Secrets Manager secret ARN (arn:aws:secretsmanager:...), or unset",
    )
    return Mlflow(base_url, _credentials(secret_arn) if secret_arn else None)


@functools.cache
def client() -> Mlflow:
    """``client_from_env(os.environ)``, created once per cold start."""
    return client_from_env(os.environ)
