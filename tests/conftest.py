"""Session fixtures: the whole app is synthesized once and shared by every test."""

from __future__ import annotations

import fcntl
import gc
import hashlib
import json
import os
import shutil
import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pytest
from aws_cdk.assertions import Template

import boto_reuse
from tradai_cdk.app import build_app, stage_id
from tradai_cdk.config import ENVIRONMENTS

ROOT = Path(__file__).resolve().parents[1]
STACKS = ("persistent", "foundation", "compute", "edge")
IMAGE_TAG = "0a1b2c3"  # what `-c image_tag=<git sha>` gives a release synth


def pytest_configure(config):
    """Shared by every test: what botocore would rebuild for each session and client (boto_reuse)."""
    boto_reuse.install()


def pytest_collection_finish(session):
    """What is loaded by now (modules, collected tests) lives to the end: the cyclic garbage collector stops walking
    it, and walks everything at most after 100 (not 10) middle-generation passes, as the caches the tests fill
    (botocore, moto) live to the end too. Without this, full passes were ~30 % of the handler tests' time."""
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, 100)


@dataclass(frozen=True)
class SynthesizedStack:
    env: str
    stack: str
    template_path: Path

    @cached_property
    def json(self) -> dict:
        """The template, parsed once per session (tests only read it)."""
        return json.loads(self.template_path.read_text())

    @cached_property
    def template(self) -> Template:
        """The same template for ``aws_cdk.assertions``, built once per session."""
        return Template.from_json(self.json)


_SYNTH_FAILURE: list[BaseException] = []


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory) -> dict[tuple[str, str], SynthesizedStack]:
    """Every (env, stack) of the app, from one synth with cdk.json's context (as the CLI runs it).

    A failed synth fails every test that needs it at once (pytest would otherwise retry it per test).
    """
    if _SYNTH_FAILURE:
        pytest.fail(f"synth failed earlier in this session: {_SYNTH_FAILURE[0]}", pytrace=False)
    try:
        return _synthesize(tmp_path_factory)
    except Exception as exc:
        _SYNTH_FAILURE.append(exc)
        raise


# What the synthesized app depends on: the synth is cached under .cache/synth/<hash of these> and reused while none of
# them changes (a repeat `make test` then skips the ~1 min synth; a fresh clone synthesizes once).
SYNTH_INPUTS = ("app.py", "cdk.json", "requirements.txt", "requirements-dev.txt", "constraints.txt",
                "package-lock.json")
SYNTH_SOURCES = ("tradai_cdk", "lambda_src")
SYNTH_CACHE = ROOT / ".cache" / "synth"
COMPLETE = "synth-complete"


def _inputs_key() -> str:
    digest = hashlib.sha256(f"{sys.version}|{IMAGE_TAG}".encode())
    sources = sorted(path for folder in SYNTH_SOURCES for path in (ROOT / folder).rglob("*")
                     if path.is_file() and not _ignored(path.relative_to(ROOT)))
    for path in [ROOT / name for name in SYNTH_INPUTS] + sources:
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:24]


def _ignored(path: Path) -> bool:
    """Bytecode and tool caches (dot folders): never part of what is synthesized."""
    return any(part == "__pycache__" or part.startswith(".") for part in path.parts)


@pytest.fixture(scope="session", autouse=True)
def _synth_first_on_one_worker(request):
    """Under pytest-xdist (`make test`), the first worker synthesizes at once while the other runs the tests that
    need no synth (handlers, harness); a plain pytest run synthesizes only when a test asks for it."""
    if os.environ.get("PYTEST_XDIST_WORKER") == "gw0":
        request.getfixturevalue("synthesized")


def _synthesize(tmp_path_factory) -> dict[tuple[str, str], SynthesizedStack]:
    outdir = SYNTH_CACHE / _inputs_key()
    SYNTH_CACHE.parent.mkdir(exist_ok=True)
    with open(SYNTH_CACHE.parent / "synth.lock", "w") as lock:  # one synth when pytest-xdist runs workers
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (outdir / COMPLETE).is_file():
            _synth_into(outdir, tmp_path_factory)
    stacks = {}
    for env in ENVIRONMENTS:
        stage_dir = outdir / f"assembly-{stage_id(env)}"
        for artifact in json.loads((stage_dir / "manifest.json").read_text())["artifacts"].values():
            if artifact["type"] == "aws:cloudformation:stack":
                stack = artifact["properties"]["stackName"].split("-")[1]
                stacks[(env, stack)] = SynthesizedStack(env, stack, stage_dir / artifact["properties"]["templateFile"])
    assert sorted(stacks) == sorted((env, stack) for env in ENVIRONMENTS for stack in STACKS)
    return stacks


def _synth_into(outdir: Path, tmp_path_factory) -> None:
    """Synthesize the app (every validation plugin) and keep it as the only cached synth."""
    context = {**json.loads((ROOT / "cdk.json").read_text())["context"], "image_tag": IMAGE_TAG}
    staging = tmp_path_factory.mktemp("cdk.out")
    build_app(context=context, outdir=str(staging)).synth()
    (staging / COMPLETE).write_text(outdir.name)
    shutil.rmtree(SYNTH_CACHE, ignore_errors=True)
    SYNTH_CACHE.mkdir()
    shutil.move(str(staging), outdir)


def _per_environment(stack: str):
    """A fixture yielding (env, template JSON) of ``stack`` for each environment."""
    @pytest.fixture(params=ENVIRONMENTS, name=stack)
    def fixture(request, synthesized):
        return request.param, synthesized[(request.param, stack)].json
    return fixture


foundation = _per_environment("foundation")
persistent = _per_environment("persistent")
compute = _per_environment("compute")
edge = _per_environment("edge")
