"""Issue 16: docs/canonical-config.md mirrors the config, and every recorded deviation still departs from the spec."""

from __future__ import annotations

import dataclasses
import re

import pytest

import spec
from tradai_cdk import config_doc
from tradai_cdk.config import ENVIRONMENTS, config_for
from tradai_cdk.config.deviations import DEVIATIONS, Deviation

DECISIONS = config_doc.ROOT / "docs" / "decisions.md"
ENV_SUFFIX = "-" + config_doc.ENV

# The spec's section headings, in its order (sections 1-10; 11 is a checklist).
SPEC_HEADINGS = (
    "1. Network Configuration", "1.1 VPC", "1.2 Subnets", "1.3 Route Tables", "1.4 NAT Instance High Availability",
    "2. Service Configuration", "2.1 Service Ports", "2.2 ECS Task Definitions", "2.3 Service Discovery",
    "2.4 Backtest Execution Modes", "2.5 Strategy Container Environment Variables",
    "3. Storage Configuration", "3.1 S3 Buckets", "3.2 DynamoDB Tables", "3.3 RDS Configuration",
    "4. Security Configuration", "4.1 Security Groups", "4.2 Cognito Configuration", "4.3 WAF Configuration",
    "5. API Gateway Configuration", "5.1 Routes", "5.2 Throttling",
    "6. SQS Configuration", "6.1 Backtest Queue", "6.2 Dead Letter Queue",
    "7. Lambda Functions", "8. Secrets Manager",
    "9. Naming Conventions", "9.1 Resource Naming Pattern", "9.2 Tag Requirements",
    "10. Environment Differences",
)


def _table(tables, section: str, title: str = "") -> config_doc.Table:
    (table,) = [t for t in tables if (t.section, t.title) == (section, title)]
    return table


def _cells(tables, deviation: Deviation) -> list[str]:
    """The cells a deviation names: its row's cell in its column, or the whole column."""
    table = _table(tables, deviation.section, deviation.table)
    column = table.columns.index(deviation.column)
    return [row[column] for row in table.rows if deviation.item in (None, row[table.key])]


def test_committed_mirror_is_current():
    assert config_doc.DOC.read_text() == config_doc.render(), "docs/canonical-config.md is stale: run make docs"


def test_sections_follow_the_spec():
    headings = re.findall(r"^#{2,3} (.+)$", config_doc.render(), re.MULTILINE)
    assert tuple(headings) == SPEC_HEADINGS + ("Not mirrored",)


def test_a_value_differing_per_environment_gets_a_column_each():
    tables = config_doc.mirror()
    assert _table(tables, "1.1").columns == ("Parameter", "Value")
    rds = _table(tables, "3.3")
    assert rds.columns == ("Parameter", "Value (dev)", "Value (staging)", "Value (prod)")
    assert rds.rows[0] == ("Instance Class", "db.t4g.micro", "db.t4g.micro", "db.t4g.small")
    assert _table(tables, "2.2").columns == (
        "Service", "CPU", "Memory", "Desired Count (dev)", "Desired Count (staging)", "Desired Count (prod)",
        "Launch Type (dev)", "Launch Type (staging)", "Launch Type (prod)")


@pytest.mark.parametrize("deviation", DEVIATIONS, ids=lambda d: " ".join(filter(None, (d.section, d.table, d.item, d.column))))
def test_each_deviation_still_departs_from_the_spec(deviation):
    for env in ENVIRONMENTS:
        cells = _cells(config_doc.tables(config_for(env)), deviation)
        assert deviation.spec not in cells, f"{env}: the config agrees with the spec again; remove the deviation"
        assert deviation.ours in cells, f"{env}: the config shows {cells}; update tradai_cdk/config/deviations.py"


def test_recorded_spec_values_are_those_of_tests_spec():
    """Where tests/spec.py has the spec's value, the deviation records exactly it."""
    recorded = {(d.section, d.item, d.column): d.spec for d in DEVIATIONS}
    assert recorded[("1.4", "Lambda", "Value")] == spec.UPDATE_NAT_ROUTES[0]
    assert recorded[("7", None, "Function Name")] in spec.LAMBDAS
    assert recorded[("7", "tradai-update-nat-routes-{env}", "Trigger")] == spec.LAMBDAS["tradai-update-nat-routes"][3]
    assert recorded[("8", None, "Secret Name")] in spec.SECRETS
    renamed = {(d.spec, d.item) for d in DEVIATIONS if d.section == "7" and d.item and d.column == "Function Name"
               and d.spec is not None}
    assert renamed == {(old, new + ENV_SUFFIX) for old, new in spec.FUNCTION_RENAMES.items()}


def test_functions_the_spec_lacks_are_exactly_the_marked_ones():
    table = _table(config_doc.mirror(), "7")
    known = {spec.FUNCTION_RENAMES.get(name, name) for name in spec.LAMBDAS}
    added = {name for name in table.keys if name.removesuffix(ENV_SUFFIX) not in known}
    assert added == {d.item for d in DEVIATIONS if d.section == "7" and d.spec is None}
    assert {name.removesuffix(ENV_SUFFIX) for name in added} == set(spec.ADDED_LAMBDAS)


def _rule(row: tuple[str, ...]) -> tuple:
    """A 4.1 row as tests/spec.py writes rules: direction, from, to, protocol, peer."""
    direction, ports, protocol, peer, _ = row
    low, _, high = ports.partition("-")
    return direction.lower(), int(low), int(high or low), protocol.lower(), peer


def test_security_group_rules_the_spec_lacks_are_exactly_the_marked_ones():
    for table in [t for t in config_doc.mirror() if t.section == "4.1"]:
        added = {row[table.key] for row in table.rows if _rule(row) not in spec.SECURITY_GROUPS.get(table.title, ())}
        marked = {d.item for d in DEVIATIONS if (d.section, d.table) == ("4.1", table.title) and d.spec is None}
        assert added == marked, table.title
        assert {_rule(row) for row in table.rows if row[table.key] in added} == \
            spec.SECURITY_GROUP_ADDITIONS.get(table.title, set()), table.title


def test_every_deviation_is_marked_and_links_its_decision():
    document = config_doc.render()
    assert document.count(f"- {config_doc.MARK} ") == len(DEVIATIONS)
    headings = re.findall(r"^## (.+)$", DECISIONS.read_text(), re.MULTILINE)
    assert {d.decision for d in DEVIATIONS} <= set(headings)
    anchors = {config_doc.anchor(heading) for heading in headings}
    assert set(re.findall(r"\]\(decisions\.md#([^)]+)\)", document)) <= anchors


def test_a_deviation_naming_no_row_stops_the_generator(monkeypatch):
    stale = dataclasses.replace(DEVIATIONS[0], item="No such row")
    monkeypatch.setattr(config_doc, "DEVIATIONS", DEVIATIONS + (stale,))
    with pytest.raises(ValueError, match="names no row or column"):
        config_doc.mirror()
