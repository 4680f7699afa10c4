"""moto as an in-process threaded server on 127.0.0.1, with fresh state and the harness patches."""

from __future__ import annotations

import logging
import threading
import warnings
from pathlib import Path
from typing import Any

import boto3
from moto.moto_api._internal.models import moto_api_backend
from moto.server import ThreadedMotoServer

from . import REGION, patches

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


class Emulator:
    """One moto server on a free loopback port; its request log goes to ``log_file``."""

    def __init__(self, log_file: Path):
        self.log_file = log_file
        self.endpoint = ""
        self._server: ThreadedMotoServer | None = None
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()

    def start(self) -> str:
        """Start the server and return its endpoint URL."""
        self._route_logs()
        patches.apply()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        moto_api_backend.reset()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        return self.endpoint

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def aws_env(self) -> dict[str, str]:
        """Environment variables that point an AWS SDK or CLI at the emulator.

        Host prefixes are off: an SDK would send e.g. Cloud Map's DiscoverInstances to ``data-127.0.0.1``.
        """
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_DISABLE_HOST_PREFIX_INJECTION": "true",
            **CREDENTIALS,
        }

    def client(self, service: str) -> Any:
        """The emulator's client of ``service``, made once (clients are thread-safe; making one costs ~20 ms)."""
        with self._clients_lock:
            if service not in self._clients:
                self._clients[service] = boto3.client(
                    service,
                    endpoint_url=self.endpoint,
                    region_name=REGION,
                    aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
                    aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                )
            return self._clients[service]

    def _route_logs(self) -> None:
        """Send moto's and werkzeug's chatter to the log file instead of the terminal."""
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(self.log_file, mode="w")
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        for name in ("werkzeug", "moto", "local_emulator.patches"):
            logger = logging.getLogger(name)
            logger.handlers[:] = [handler]
            logger.setLevel(logging.INFO)
            logger.propagate = False
        warnings.filterwarnings("ignore", message="Tried to parse .* not supported by moto")
