"""One syrupy snapshot per stack: a PR's snapshot diff is the infrastructure review."""

import re

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

import spec
from conftest import STACKS

ASSET_HASH = re.compile(r"[0-9a-f]{64}")


def _mask(value):
    """Replace asset hashes (they change with any handler edit) by a fixed marker."""
    if isinstance(value, dict):
        return {key: _mask(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_mask(item) for item in value]
    if isinstance(value, str):
        return ASSET_HASH.sub("<asset-hash>", value)
    return value


@pytest.fixture
def snapshot_json(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("env", spec.ENVIRONMENTS)
def test_stack_template_snapshot(env, stack, synthesized, snapshot_json):
    assert _mask(synthesized[(env, stack)].json) == snapshot_json
