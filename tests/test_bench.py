"""The pure parts of `make bench` (bench/): parsing, limit accounting, the linearity fit, the report. No synth."""

from __future__ import annotations

import json

import pytest

from bench import imports, limits, proc, report, run, synth, testsuite

PYTEST_OUTPUT = """\
============================= slowest durations ==============================
61.20s setup    tests/test_alarms.py::test_every_function_alarms[dev]
3.50s call     tests/test_cfn_lint.py::test_every_template_passes_cfn_lint
0.75s call     tests/test_alarms.py::test_thresholds[prod]
0.01s teardown tests/test_cfn_lint.py::test_every_template_passes_cfn_lint

(120 durations < 0.005s hidden.  Use -vv to show these durations.)
================= 2 failed, 400 passed, 3 skipped in 160.42s (0:02:40) =================
"""


def test_pytest_durations_are_parsed_slowest_first_and_summed_per_file():
    summary = testsuite.summarize(PYTEST_OUTPUT)
    assert [row["seconds"] for row in summary["slowest"]] == [61.2, 3.5, 0.75, 0.01]
    assert summary["slowest"][1] == {
        "seconds": 3.5,
        "phase": "call",
        "test": "tests/test_cfn_lint.py::test_every_template_passes_cfn_lint",
    }
    assert summary["files"] == [
        {"file": "tests/test_alarms.py", "seconds": 61.95},
        {"file": "tests/test_cfn_lint.py", "seconds": 3.51},
    ]
    assert summary["setup_seconds"] == 61.2
    assert summary["largest_setup"]["test"] == "tests/test_alarms.py::test_every_function_alarms[dev]"
    assert (summary["outcome"], summary["pytest_seconds"]) == ("2 failed, 400 passed, 3 skipped", 160.42)


def test_output_without_durations_or_summary():
    assert testsuite.summarize("nothing here") == {
        "outcome": "unknown",
        "pytest_seconds": None,
        "slowest": [],
        "files": [],
        "setup_seconds": 0,
        "largest_setup": None,
    }


def test_template_usage_counts_against_cloudformation_limits():
    template = {
        "Resources": {f"R{i}": {"Type": "AWS::SNS::Topic"} for i in range(300)},
        "Outputs": {"A": {}, "B": {}},
        "Parameters": {"P": {}},
    }
    usage = limits.template_usage(template, 60_000)
    assert {key: usage[key] for key in ("resources", "outputs", "parameters", "template_bytes")} == {
        "resources": 300,
        "outputs": 2,
        "parameters": 1,
        "template_bytes": 60_000,
    }
    assert usage["percent"] == {"resources": 60.0, "outputs": 1.0, "parameters": 0.5, "template_bytes": 5.7}
    assert usage["max_percent"] == 60.0
    assert usage["over_direct_upload"] is True
    assert limits.template_usage({}, 10)["max_percent"] == 0.0


@pytest.fixture
def assembly(tmp_path):
    """A one-stage, one-stack cloud assembly with a folder asset and a Lambda function of lambda_src."""
    stage = tmp_path / "assembly-S"
    (tmp_path / "asset.abc" / "pkg").mkdir(parents=True)
    (tmp_path / "asset.abc" / "pkg" / "m.py").write_text("x" * 300)
    (tmp_path / "asset.abc" / "top.py").write_text("y" * 100)
    for module in ("shared/__init__.py", "nat_routes/__init__.py", "nat_routes/handler.py"):  # the handlers' asset
        (tmp_path / "asset.code" / module).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "asset.code" / module).touch()
    stage.mkdir()
    (tmp_path / "manifest.json").write_text(
        json.dumps(
            {
                "artifacts": {
                    "assembly-S": {
                        "type": "cdk:cloud-assembly",
                        "properties": {"directoryName": "assembly-S", "displayName": "S"},
                    },
                    "Tree": {"type": "cdk:tree", "properties": {"file": "tree.json"}},
                }
            }
        )
    )
    (stage / "manifest.json").write_text(
        json.dumps(
            {
                "artifacts": {
                    "SApp": {
                        "type": "aws:cloudformation:stack",
                        "environment": "aws://123456789012/eu-west-1",
                        "properties": {"templateFile": "SApp.template.json", "stackName": "s-app"},
                    },
                    "SApp.assets": {"type": "cdk:asset-manifest", "properties": {"file": "SApp.assets.json"}},
                }
            }
        )
    )
    functions = {
        "Fn": {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "Handler": "nat_routes.handler.handler",
                "Environment": {"Variables": {"POWERTOOLS_LOG_LEVEL": "INFO", "TABLE": {"Ref": "Table"}}},
            },
        },
        "Provider": {"Type": "AWS::Lambda::Function", "Properties": {"Handler": "index.handler"}},
    }
    (stage / "SApp.template.json").write_text(json.dumps({"Resources": functions}))
    (stage / "SApp.assets.json").write_text(
        json.dumps(
            {
                "files": {
                    "abc": {"displayName": "Fn/Code", "source": {"path": "../asset.abc", "packaging": "zip"}},
                    "tpl": {
                        "displayName": "s-app Template",
                        "source": {"path": "SApp.template.json", "packaging": "file"},
                    },
                }
            }
        )
    )
    return tmp_path


def test_stacks_and_assets_are_read_from_the_assembly(assembly):
    (row,) = limits.stack_usage(assembly)
    assert (row["stage"], row["stack"], row["resources"]) == ("S", "s-app", 2)
    assert row["template_bytes"] == (assembly / "assembly-S" / "SApp.template.json").stat().st_size
    assert limits.assets(assembly) == [
        {
            "id": "abc",
            "name": "Fn/Code",
            "packaging": "zip",
            "bytes": 400,
            "files": 2,
            "used_by": 1,
            "largest": [{"name": "pkg", "bytes": 300}, {"name": "top.py", "bytes": 100}],
        }
    ]


def test_handler_modules_are_the_templates_lambda_src_handlers_with_their_literal_environment(assembly):
    modules = imports.handler_modules(assembly)
    assert list(modules) == ["nat_routes.handler"]
    env = modules["nat_routes.handler"]
    assert env["POWERTOOLS_LOG_LEVEL"] == "INFO" and "TABLE" not in env
    assert (env["AWS_REGION"], env["LAMBDA_TASK_ROOT"]) == ("eu-west-1", str(assembly / "asset.code"))
    assert env["PYTHONPATH"] == str(assembly / "asset.code") and env["PYTHONDONTWRITEBYTECODE"] == "1"


def test_import_time_is_summed_per_package_beyond_the_baseline():
    profile = imports.parse_import_time(
        "import time: self [us] | cumulative | imported package\n"
        "import time:      1500 |       1500 |   botocore.client\n"
        "import time:      2000 |       2000 |     aws_xray_sdk.core\n"
        "import time:       500 |       2500 |   aws_xray_sdk\n"
        "import time:       300 |       4300 | nat_routes.handler\n"
    )
    assert profile["aws_xray_sdk.core"] == 2000
    assert imports.beyond(profile, {"botocore.client"}) == [("aws_xray_sdk", 2.5), ("nat_routes", 0.3)]


def test_a_linear_series_fits_exactly():
    fit = synth.linear_fit((0, 1, 10, 50), [20.0, 20.5, 25.0, 45.0])
    assert fit["seconds_per_task"] == pytest.approx(0.5)
    assert fit["r_squared"] == pytest.approx(1.0)
    assert fit["per_task_ratio"] == pytest.approx(1.0)
    assert fit["growth"] == "linear"


def test_a_quadratic_series_is_worse_than_linear():
    fit = synth.linear_fit((0, 1, 10, 50), [20 + 0.05 * n * n for n in (0, 1, 10, 50)])
    assert fit["per_task_ratio"] == pytest.approx(5.0)
    assert fit["growth"] == "worse than linear"
    assert fit["r_squared"] < 1


def test_spread_and_summary():
    samples = [
        proc.Sample(3.0, 2.0, 100.0, 80.0),
        proc.Sample(1.0, 1.0, 120.0, 90.0),
        proc.Sample(2.0, 4.0, 110.0, 70.0),
    ]
    summary = proc.summarize(samples)
    assert summary["runs"] == 3
    assert summary["wall_s"] == {"median": 2.0, "min": 1.0, "max": 3.0}
    assert summary["peak_rss_mib"]["median"] == 110.0


def test_deploy_local_timings(tmp_path):
    assert "Not measured" in run.deploy_local(tmp_path / "absent.json")["note"]
    (tmp_path / "timings.json").write_text(json.dumps({"synth": 20, "bootstrap": 5.5, "deploy": 40}))
    result = run.deploy_local(tmp_path / "timings.json")
    assert result["phases"] == {"synth": 20.0, "bootstrap": 5.5, "deploy": 40.0}
    assert result["total_s"] == 65.5
    assert result["drills"] == {}
    (tmp_path / "drill-timings.json").write_text(json.dumps({"tradai-sqs-consumer-dev": 1.5}))
    assert run.deploy_local(tmp_path / "timings.json")["drills"] == {"tradai-sqs-consumer-dev": 1.5}


def _results(under_load: bool) -> dict:
    spread = {"median": 2.0, "min": 1.0, "max": 3.0}
    kind = {"runs": 1, "wall_s": spread, "cpu_s": spread, "peak_rss_mib": spread, "max_process_rss_mib": spread}
    results = {
        "command": "RUNS=1 BENCH_SKIP_TESTS=1 make bench",
        "runs": 1,
        "taken_at": "2025-01-01T00:00:00+00:00",
        "machine": {
            "cores": 2,
            "memory_gib": 23.5,
            "cpu": "AMD EPYC",
            "python": "3.11.7",
            "node": "v20",
            "cdk_cli": "2.1",
            "aws_cdk_lib": "2.275.0",
            "jsii": "1.142.0",
            "commit": "abc",
            "dirty": True,
        },
        "load": {"start": 7.5, "samples": [7.5, 8.0], "under_load": under_load},
        "synth": {
            "empty": kind,
            "full": kind,
            "full-cached": kind,
            "plain": kind,
            "ratio_full_to_empty": 8.0,
            "ratio_full_cached_to_empty": 4.0,
            "ratio_plain_to_empty": 5.0,
            "plugin_share": 0.4,
        },
        "tests": None,
        "imports": {
            "boto3_seconds": spread,
            "modules": [
                {
                    "module": "nat_routes.handler",
                    "seconds": spread,
                    "ratio": 1.9,
                    "beyond_boto3_ms": [["aws_lambda_powertools", 90.0]],
                    "beyond_boto3_total_ms": 120.0,
                }
            ],
        },
        "stacks": [{"stage": "S", "stack": "s-app", **limits.template_usage({"Resources": {"A": {}}}, 100)}],
        "assets": [],
        "deploy_local": run.deploy_local(proc.ROOT / "no-such-file.json"),
        "scale": {
            "stage": {
                "points": [
                    {"extra_tasks": 0, "largest_stack": "c", "resources": 229, "template_bytes": 362_077, **kind}
                ],
                "wall_fit": synth.linear_fit((0, 1, 10, 50), [20.0, 20.5, 25.0, 45.0]),
                "cpu_fit": synth.linear_fit((0, 1, 10, 50), [20.0, 20.5, 25.0, 45.0]),
            }
        },
    }
    results["targets"] = report.targets(results)
    return results


def test_targets_report_missed_met_and_not_measured():
    met = {row["target"]: row["met"] for row in report.targets(_results(False))}
    assert met == {
        "full synth <= 3x an empty app's": False,
        "make test <= 60 s": None,
        "every handler's cold import <= 1.5x bare boto3": False,
        "every stack <= 50 % of CloudFormation's limits": True,
        "make deploy-local after install <= 90 s": None,
    }


def test_markdown_keeps_the_notes_and_names_command_machine_and_load():
    notes = "## What was changed to reach them\n\n- shared synth: 160 s -> 60 s\n"
    text = report.markdown(_results(True), notes)
    assert text.rstrip().endswith(notes.strip())
    assert "`RUNS=1 BENCH_SKIP_TESTS=1 make bench`" in text and "2 cores (`nproc`)" in text
    assert "**Taken under load**" in text
    assert "| every stack <= 50 % of CloudFormation's limits | 0.20 % (largest) | met |" in text
    assert "Skipped in this run" in text and "Not measured: run `make deploy-local` first" in text
    assert "0.500 s per extra task" in text and "**linear**" in text
    assert "**Taken under load**" not in report.markdown(_results(False), notes)


def test_load_rule():
    assert run.under_load([0.3, 1.2, 1.9], cores=2) is False
    assert run.under_load([1.5, 1.0], cores=2) is True
    assert run.under_load([0.2, 2.5], cores=2) is True


def _tests(output: str) -> dict:
    lint = {"wall_s": 9.5, "cpu_s": 9.0, "peak_rss_mib": 300.0, "max_process_rss_mib": 290.0, "exit_code": 2}
    pytest_ = {"wall_s": 170.0, "cpu_s": 150.0, "peak_rss_mib": 900.0, "max_process_rss_mib": 600.0, "exit_code": 1}
    return {
        "command": "make lint; pytest",
        "lint": lint,
        "pytest": pytest_,
        "make_test_s": 179.5,
        "synth_cache": "hit",
        **testsuite.summarize(output),
    }


def test_markdown_lists_the_slowest_tests_and_files():
    results = _results(False)
    results["tests"] = _tests(PYTEST_OUTPUT)
    text = report.markdown(results, "")
    assert "**179.5 s** in all, lint 9.5 s (exit 2), pytest 170.0 s wall" in text
    assert "| 61.20 | setup | tests/test_alarms.py::test_every_function_alarms[dev] |" in text
    assert "| 62.0 | tests/test_alarms.py |" in text
    assert {row["target"]: row["measured"] for row in report.targets(results)}["make test <= 60 s"] == "179.50 s"


def test_markdown_of_a_pytest_run_that_never_started():
    results = _results(False)
    results["tests"] = _tests("ERROR: usage")
    text = report.markdown(results, "")
    assert "(unknown; exit 1). The session's synth was reused" in text
    assert "Fixture setup takes 0.0 s in all." in text
