"""Session fixtures: the whole app is synthesized once and shared by every test."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pytest
from aws_cdk.assertions import Template

from tradai_cdk.app import build_app, stage_id
from tradai_cdk.config import ENVIRONMENTS

ROOT = Path(__file__).resolve().parents[1]
STACKS = ("persistent", "foundation", "compute", "edge")
IMAGE_TAG = "0a1b2c3"  # what `-c image_tag=<git sha>` gives a release synth


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


def _synthesize(tmp_path_factory) -> dict[tuple[str, str], SynthesizedStack]:
    context = {**json.loads((ROOT / "cdk.json").read_text())["context"], "image_tag": IMAGE_TAG}
    outdir = tmp_path_factory.mktemp("cdk.out")
    app = build_app(context=context, outdir=str(outdir))
    assembly = app.synth()
    stacks = {}
    for env in ENVIRONMENTS:
        stage = assembly.get_nested_assembly(f"assembly-{stage_id(env)}")
        for artifact in stage.stacks:
            stack = artifact.stack_name.split("-")[1]
            stacks[(env, stack)] = SynthesizedStack(env, stack, Path(stage.directory) / artifact.template_file)
    assert sorted(stacks) == sorted((env, stack) for env in ENVIRONMENTS for stack in STACKS)
    return stacks


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
