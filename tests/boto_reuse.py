"""What botocore rebuilds for every session and client though it never changes, built once for all the tests.

The parsed service models (one loader for every session), each service's client methods (one per operation) and a
new session's built-in event handlers. Each depends only on botocore's bundled data and handler list, so reusing it
carries nothing from one test to the next: sessions, clients, their event hooks and their classes (the
``creating-client-class`` handlers still run for each) stay per test, as do moto's backends.
"""

from __future__ import annotations

import copy
from typing import Any

import boto3
import botocore
import botocore.client
import botocore.hooks
import botocore.loaders
import botocore.session
import moto.core  # noqa: F401  (adds its stubber to botocore's built-in handlers, which the template must hold)

LOADER = botocore.loaders.create_loader()
_BUILTIN_HANDLERS = botocore.hooks.HierarchicalEmitter()
_METHODS: dict[tuple[str, str], dict[str, Any]] = {}
_create_methods = botocore.client.ClientCreator._create_methods


def install() -> None:
    """Every botocore session of this process uses ``LOADER``, every client its service's methods built once."""
    botocore.register_initializer(_share_loader)
    botocore.client.ClientCreator._create_methods = _cached_methods
    botocore.session.Session(event_hooks=_BUILTIN_HANDLERS)  # registers the built-in handlers into the template


def new_session() -> boto3.session.Session:
    """A session as ``boto3.session.Session()`` makes it, its built-in handlers copied instead of registered."""
    return boto3.session.Session(botocore_session=botocore.session.Session(
        event_hooks=copy.copy(_BUILTIN_HANDLERS), include_builtin_handlers=False))


def _share_loader(session: botocore.session.Session) -> None:
    session.register_component("data_loader", LOADER)


def _cached_methods(creator: botocore.client.ClientCreator, service_model: Any) -> dict[str, Any]:
    """The service's client methods, most of a client's creation time: built once per service and API version (one
    loader, so one model each). A copy, as ``creating-client-class`` handlers may change the class attributes."""
    key = (service_model.service_name, service_model.api_version)
    if key not in _METHODS:
        _METHODS[key] = _create_methods(creator, service_model)
    return dict(_METHODS[key])
