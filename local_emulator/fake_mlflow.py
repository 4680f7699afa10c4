"""An in-memory stand-in for the MLflow tracking server (MLflow 2.x REST API 2.0), stdlib only.

NOT MLflow: it implements exactly the endpoints ``lambda_src/ml_lifecycle/mlflow.py`` calls, with MLflow's
JSON shapes (empty lists omitted, versions as strings, tags as [{key, value}]) and error bodies
({"error_code": "RESOURCE_DOES_NOT_EXIST", "message": ...} with HTTP 404), so the ML lifecycle handlers can
run against it in the handler tests and in the local deploy (``make deploy-local``)::

    fake = FakeMlflow()
    base_url = fake.start()          # http://127.0.0.1:<port>/mlflow  -> MLFLOW_TRACKING_URI
    run_id = fake.add_run("training-momentum", {"sharpe": 1.4}, tags={"job_id": "r-1"})
    version = fake.add_version("momentum", run_id)
    fake.set_alias("momentum", "champion", version)
    ...
    fake.stop()

Endpoints (under {base_url}/api/2.0/mlflow/): GET registered-models/search, GET registered-models/get,
GET|POST registered-models/alias, GET model-versions/search (filter ``name='<model>'`` only),
GET model-versions/get, POST model-versions/set-tag, GET runs/get, GET experiments/get-by-name,
POST runs/search (filter ``tags.<key> = '<value>'`` only). Pagination uses max_results and page_token.
``fail_next(status, count, endpoint=...)`` answers the next requests (optionally of one endpoint, e.g.
"POST registered-models/alias") with an HTTP error; ``credentials`` enforces basic auth
(401 otherwise); ``requests`` records (method, path) of every request and ``authorizations`` its
Authorization header (or None).
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

PREFIX = "/mlflow/api/2.0/mlflow/"
ERROR_CODES = {
    400: "INVALID_PARAMETER_VALUE",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "RESOURCE_DOES_NOT_EXIST",
    409: "RESOURCE_ALREADY_EXISTS",
    429: "REQUEST_LIMIT_EXCEEDED",
    500: "INTERNAL_ERROR",
    502: "TEMPORARILY_UNAVAILABLE",
    503: "TEMPORARILY_UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
MAX_RESULTS = {"registered-models/search": 100, "model-versions/search": 10_000, "runs/search": 1000}


class ApiError(Exception):
    def __init__(self, status: int, message: str, error_code: str | None = None):
        super().__init__(message)
        self.status, self.message = status, message
        self.error_code = error_code or ERROR_CODES.get(status, "INTERNAL_ERROR")


def _millis() -> int:
    return int(time.time() * 1000)


def _tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"key": key, "value": value} for key, value in tags.items()]


def _compact(entity: dict[str, Any]) -> dict[str, Any]:
    """MLflow's protobuf JSON leaves out empty lists."""
    return {key: value for key, value in entity.items() if value != []}


class FakeMlflow:
    """In-memory registered models, versions, aliases, experiments and runs behind an HTTP server."""

    def __init__(self, credentials: tuple[str, str] | None = None, host: str = "127.0.0.1", port: int = 0):
        self.credentials, self.host, self.port = credentials, host, port
        self.requests: list[tuple[str, str]] = []
        self.authorizations: list[str | None] = []
        self._lock = threading.RLock()
        self._models: dict[str, dict[str, Any]] = {}  # name -> {created, tags, aliases{alias: version}}
        self._versions: dict[str, dict[str, dict[str, Any]]] = {}  # name -> version -> {run_id, tags, created}
        self._experiments: dict[str, str] = {}  # name -> experiment_id
        self._runs: dict[str, dict[str, Any]] = {}  # run_id -> {experiment_id, metrics, tags, created}
        self._failures: list[tuple[int, str | None, str | None]] = []
        self._experiment_ids = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- server ------------------------------------------------------------------------------------------

    def start(self) -> str:
        """Serve in a daemon thread; returns the base URL (the MLFLOW_TRACKING_URI, with "/mlflow")."""
        if self._server is None:
            self._server = ThreadingHTTPServer((self.host, self.port), _handler_class(self))
            self._server.daemon_threads = True
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-mlflow", daemon=True
            )
            self._thread.start()
        return self.base_url

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeMlflow is not started")
        host, port = cast("tuple[str, int]", self._server.server_address[:2])  # AF_INET: (host, port)
        return f"http://{host}:{port}/mlflow"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeMlflow:
        self.start()
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.stop()

    # --- seeding and inspection --------------------------------------------------------------------------

    def add_model(self, name: str, tags: dict[str, str] | None = None) -> None:
        with self._lock:
            model = self._models.setdefault(name, {"created": _millis(), "tags": {}, "aliases": {}})
            model["tags"].update(tags or {})
            self._versions.setdefault(name, {})

    def add_version(self, name: str, run_id: str, tags: dict[str, str] | None = None) -> str:
        """A new READY version of the model (registered on first use); returns its version ("1", "2", ...)."""
        with self._lock:
            self.add_model(name)
            version = str(len(self._versions[name]) + 1)
            self._versions[name][version] = {"run_id": run_id, "tags": dict(tags or {}), "created": _millis()}
            return version

    def add_run(self, experiment_name: str, metrics: dict[str, float], tags: dict[str, str] | None = None) -> str:
        """A FINISHED run in the experiment (created on first use); returns its run_id."""
        with self._lock:
            experiment_id = self._experiments.setdefault(experiment_name, str(next(self._experiment_ids)))
            run_id = uuid.uuid4().hex
            self._runs[run_id] = {
                "experiment_id": experiment_id,
                "metrics": dict(metrics),
                "tags": dict(tags or {}),
                "created": _millis(),
            }
            return run_id

    def set_alias(self, name: str, alias: str, version: str) -> None:
        with self._lock:
            self._version(name, str(version))
            self._models[name]["aliases"][alias] = str(version)

    def alias(self, name: str, alias: str) -> str | None:
        """The version the alias points at, or None."""
        with self._lock:
            return self._models.get(name, {}).get("aliases", {}).get(alias)

    def version_tags(self, name: str, version: str) -> dict[str, str]:
        with self._lock:
            return dict(self._version(name, str(version))["tags"])

    def fail_next(
        self, status: int, count: int = 1, error_code: str | None = None, endpoint: str | None = None
    ) -> None:
        """Answer the next ``count`` requests with HTTP ``status`` and MLflow's error body (``error_code``
        defaults to MLflow's for the status). ``endpoint`` limits it to one endpoint, e.g.
        "registered-models/alias", or one method of it: "POST registered-models/alias"."""
        with self._lock:
            self._failures.extend([(status, error_code, endpoint)] * count)

    # --- endpoints ---------------------------------------------------------------------------------------

    def handle(
        self, method: str, path: str, query: dict[str, str], body: dict[str, Any], authorization: str | None
    ) -> dict[str, Any]:
        """The JSON answer of one request; ApiError for an error answer."""
        with self._lock:
            self.requests.append((method, path))
            self.authorizations.append(authorization)
            for index, (status, code, endpoint) in enumerate(self._failures):
                wanted_method, _, wanted = (endpoint or "").rpartition(" ")
                if endpoint is None or (path == PREFIX + wanted and wanted_method in ("", method)):
                    del self._failures[index]
                    raise ApiError(status, f"injected failure (HTTP {status})", code)
            if self.credentials is not None and authorization != _basic(*self.credentials):
                raise ApiError(401, "You are not authenticated. Please provide valid credentials.")
            if not path.startswith(PREFIX):
                raise ApiError(404, f"no such endpoint: {path}", "ENDPOINT_NOT_FOUND")
            route: Callable[..., dict[str, Any]] | None = getattr(
                self, f"_{method.lower()}_{path[len(PREFIX) :].replace('/', '_').replace('-', '_')}", None
            )
            if route is None:
                raise ApiError(404, f"no such endpoint: {method} {path}", "ENDPOINT_NOT_FOUND")
            return route(dict(query, **body))

    def _get_registered_models_search(self, params: dict[str, Any]) -> dict[str, Any]:
        models = [self._model_json(name) for name in sorted(self._models)]
        return self._page(models, params, "registered-models/search", "registered_models")

    def _get_registered_models_get(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"registered_model": self._model_json(self._model(_param(params, "name"))[0])}

    def _get_registered_models_alias(self, params: dict[str, Any]) -> dict[str, Any]:
        name, alias = _param(params, "name"), _param(params, "alias")
        version = self._model(name)[1]["aliases"].get(alias)
        if version is None:
            raise ApiError(404, f"Registered model alias {alias} not found.")
        return {"model_version": self._version_json(name, version)}

    def _post_registered_models_alias(self, params: dict[str, Any]) -> dict[str, Any]:
        name, alias, version = _param(params, "name"), _param(params, "alias"), _param(params, "version")
        self._model(name)
        self._version(name, version)
        self._models[name]["aliases"][alias] = version
        self._models[name]["updated"] = _millis()
        return {}

    def _get_model_versions_search(self, params: dict[str, Any]) -> dict[str, Any]:
        match = re.fullmatch(r"\s*name\s*=\s*(?:'([^']*)'|\"([^\"]*)\")\s*", params.get("filter", ""))
        if not match:
            raise ApiError(400, f"unsupported filter {params.get('filter')!r} (this stand-in knows name='...')")
        name = match.group(1) if match.group(1) is not None else match.group(2)
        versions = [
            self._version_json(name, version) for version in sorted(self._versions.get(name, {}), key=int, reverse=True)
        ]
        return self._page(versions, params, "model-versions/search", "model_versions")

    def _get_model_versions_get(self, params: dict[str, Any]) -> dict[str, Any]:
        name, version = _param(params, "name"), _param(params, "version")
        self._version(name, version)
        return {"model_version": self._version_json(name, version)}

    def _post_model_versions_set_tag(self, params: dict[str, Any]) -> dict[str, Any]:
        name, version, key = _param(params, "name"), _param(params, "version"), _param(params, "key")
        self._version(name, version)["tags"][key] = str(params.get("value", ""))
        return {}

    def _get_runs_get(self, params: dict[str, Any]) -> dict[str, Any]:
        run_id = _param(params, "run_id")
        if run_id not in self._runs:
            raise ApiError(404, f"Run '{run_id}' not found")
        return {"run": self._run_json(run_id)}

    def _get_experiments_get_by_name(self, params: dict[str, Any]) -> dict[str, Any]:
        name = _param(params, "experiment_name")
        if name not in self._experiments:
            raise ApiError(404, f"Could not find experiment with name '{name}'")
        experiment_id = self._experiments[name]
        return {
            "experiment": {
                "experiment_id": experiment_id,
                "name": name,
                "lifecycle_stage": "active",
                "artifact_location": f"mlflow-artifacts:/{experiment_id}",
            }
        }

    def _post_runs_search(self, params: dict[str, Any]) -> dict[str, Any]:
        experiment_ids = params.get("experiment_ids")
        if not isinstance(experiment_ids, list) or not experiment_ids:
            raise ApiError(400, "experiment_ids: a non-empty list is required")
        match = re.fullmatch(
            r"\s*tags\.(?:`([^`]+)`|([A-Za-z_][A-Za-z0-9_]*))\s*=\s*(?:'([^']*)'|\"([^\"]*)\")\s*",
            params.get("filter") or "",
        )
        if not match:
            raise ApiError(400, f"unsupported filter {params.get('filter')!r} (this stand-in knows tags.<key> = '...')")
        key = match.group(1) or match.group(2)
        value = match.group(3) if match.group(3) is not None else match.group(4)
        runs = [
            self._run_json(run_id)
            for run_id, run in sorted(self._runs.items(), key=lambda r: -r[1]["created"])
            if run["experiment_id"] in experiment_ids and run["tags"].get(key) == value
        ]
        return self._page(runs, params, "runs/search", "runs")

    # --- helpers (called with the lock held) ---------------------------------------------------------------

    def _page(self, items: list[dict], params: dict[str, Any], endpoint: str, field: str) -> dict[str, Any]:
        try:
            size = int(params.get("max_results") or MAX_RESULTS[endpoint])
            start = int(base64.urlsafe_b64decode(params["page_token"]).decode()) if params.get("page_token") else 0
        except (ValueError, TypeError):
            raise ApiError(400, "invalid max_results or page_token") from None
        if size < 1:
            raise ApiError(400, "max_results must be positive")
        answer: dict[str, Any] = {}
        if items[start : start + size]:
            answer[field] = items[start : start + size]
        if start + size < len(items):
            answer["next_page_token"] = base64.urlsafe_b64encode(str(start + size).encode()).decode()
        return answer

    def _model(self, name: str) -> tuple[str, dict[str, Any]]:
        if name not in self._models:
            raise ApiError(404, f"Registered Model with name={name} not found")
        return name, self._models[name]

    def _version(self, name: str, version: str) -> dict[str, Any]:
        found = self._versions.get(name, {}).get(version)
        if found is None:
            raise ApiError(404, f"Model Version (name={name}, version={version}) not found")
        return found

    def _model_json(self, name: str) -> dict[str, Any]:
        model = self._models[name]
        latest = max(self._versions.get(name, {}), key=int, default=None)
        return _compact(
            {
                "name": name,
                "creation_timestamp": model["created"],
                "last_updated_timestamp": model.get("updated", model["created"]),
                "latest_versions": [self._version_json(name, latest)] if latest else [],
                "tags": _tag_list(model["tags"]),
                "aliases": [{"alias": alias, "version": version} for alias, version in model["aliases"].items()],
            }
        )

    def _version_json(self, name: str, version: str) -> dict[str, Any]:
        entry = self._versions[name][version]
        run = self._runs.get(entry["run_id"], {})
        return _compact(
            {
                "name": name,
                "version": version,
                "creation_timestamp": entry["created"],
                "last_updated_timestamp": entry["created"],
                "current_stage": "None",
                "description": "",
                "source": f"mlflow-artifacts:/{run.get('experiment_id', '0')}/{entry['run_id']}/artifacts/model",
                "run_id": entry["run_id"],
                "status": "READY",
                "tags": _tag_list(entry["tags"]),
                "aliases": [alias for alias, target in self._models[name]["aliases"].items() if target == version],
            }
        )

    def _run_json(self, run_id: str) -> dict[str, Any]:
        run = self._runs[run_id]
        info = {
            "run_id": run_id,
            "run_uuid": run_id,
            "experiment_id": run["experiment_id"],
            "run_name": run["tags"].get("mlflow.runName", run_id[:8]),
            "status": "FINISHED",
            "start_time": run["created"],
            "end_time": run["created"],
            "lifecycle_stage": "active",
            "artifact_uri": f"mlflow-artifacts:/{run['experiment_id']}/{run_id}/artifacts",
        }
        data = _compact(
            {
                "metrics": [
                    {"key": key, "value": value, "timestamp": run["created"], "step": 0}
                    for key, value in run["metrics"].items()
                ],
                "tags": _tag_list(run["tags"]),
            }
        )
        return {"info": info, "data": data}


def _param(params: dict[str, Any], name: str) -> str:
    value = params.get(name)
    if value in (None, ""):
        raise ApiError(400, f"Missing value for required parameter '{name}'.")
    return str(value)


def _basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


def _handler_class(fake: FakeMlflow) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def _serve(self, method: str) -> None:
            url = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}") if length else {}
                if not isinstance(body, dict):
                    raise ApiError(400, "the request body must be a JSON object", "MALFORMED_REQUEST")
                status, answer = 200, fake.handle(method, url.path, query, body, self.headers.get("Authorization"))
            except ValueError:
                status, answer = 400, {"error_code": "MALFORMED_REQUEST", "message": "invalid JSON body"}
            except ApiError as exc:
                status, answer = exc.status, {"error_code": exc.error_code, "message": exc.message}
            payload = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            if status == 401:
                self.send_header("WWW-Authenticate", 'Basic realm="mlflow"')
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

    return Handler
