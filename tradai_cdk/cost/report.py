"""The estimate as text (``make cost``) or markdown (a pull request's comment), alone or against a base."""

from __future__ import annotations

import datetime as dt
from dataclasses import fields

from .estimate import TIERS, EnvEstimate
from .model import HOURS, USAGE_TIER, Line, usd
from .prices import PriceTable

Estimates = dict[str, EnvEstimate]


def render(
    after: Estimates, prices: PriceTable, today: dt.date, markdown: bool, before: Estimates | None = None, top: int = 10
) -> str:
    """The whole report: price table status, then the change against ``before`` (when given), then each
    environment's estimate."""
    out = [_header(prices, today, markdown)]
    if before is not None:
        out.append(_changes(before, after, top, markdown))
    out += [_environment(estimate, markdown, collapsed=before is not None) for estimate in after.values()]
    return "\n\n".join(part for part in out if part) + "\n"


def _header(prices: PriceTable, today: dt.date, markdown: bool) -> str:
    age = (today - prices.read_on).days
    about = (
        f"{prices.region}, {prices.currency}, on-demand list prices, {HOURS} h a month; price table "
        f"tradai_cdk/cost/prices.json read on {prices.read_on.isoformat()} ({age} days ago, "
        f"limit {prices.max_age_days})"
    )
    stale = prices.staleness(today)
    if markdown:
        head = f"## Monthly cost estimate\n\n_{about}_"
        return head + (f"\n\n> [!WARNING]\n> **{stale}**" if stale else "")
    head = f"TradAI monthly cost estimate: {about}"
    return head + (f"\n\n{'!' * 100}\n!!! {stale}\n{'!' * 100}" if stale else "")


def change(before: float, after: float) -> str:
    """``+$3.99 (+3.3%)``; the percentage only when there was a before."""
    delta = after - before
    sign = "+" if delta >= 0 else "-"
    pct = f" ({sign}{abs(delta) / before:.1%})" if before else ""
    return f"{sign}{usd(abs(delta))}{pct}"


def largest_changes(before: Estimates, after: Estimates, top: int) -> list[tuple[str, str, str, str, float, float]]:
    """(env, tier, name, type, before, after) of the ``top`` lines whose monthly cost changed most."""
    rows: dict[tuple[str, str, str, str], list[float]] = {}
    for side, estimates in enumerate((before, after)):
        for env, estimate in estimates.items():
            for line in estimate.lines:
                rows.setdefault((env, line.tier, line.name, line.kind), [0.0, 0.0])[side] += line.monthly
    changed = [(*key, b, a) for key, (b, a) in rows.items() if abs(a - b) >= 0.005]
    return sorted(changed, key=lambda row: -abs(row[5] - row[4]))[:top]


def _changes(before: Estimates, after: Estimates, top: int, markdown: bool) -> str:
    totals = [(env, before[env].total if env in before else 0.0, after[env].total) for env in after]
    changes = largest_changes(before, after, top)
    if markdown:
        out = ["| Environment | Before (base) | After (this change) | Change |", "|---|---:|---:|---:|"]
        out += [f"| {env} | {usd(b)} | {usd(a)} | {change(b, a)} |" for env, b, a in totals]
        out += ["", f"**Largest changes** ({len(changes)} shown)" if changes else "**No cost line changed.**"]
        if changes:
            out += [
                "",
                "| Environment | Tier | Resource | Type | Before | After | Change |",
                "|---|---|---|---|---:|---:|---:|",
            ]
            out += [f"| {e} | {t} | {n} | {k} | {usd(b)} | {usd(a)} | {change(b, a)} |" for e, t, n, k, b, a in changes]
        return "\n".join(out)
    out = ["Per environment, before (base) -> after (this change):"]
    out += [f"  {env:<8} {usd(b):>10} -> {usd(a):>10}   {change(b, a)}" for env, b, a in totals]
    out += ["Largest changes:" if changes else "No cost line changed."]
    out += [
        f"  {e:<8} {t:<11} {n:<40} {usd(b):>10} -> {usd(a):>10}   {change(b, a)}  ({k})" for e, t, n, k, b, a in changes
    ]
    return "\n".join(out)


def grouped(lines: tuple[Line, ...]) -> list[Line]:
    """Lines alike but for their name (alarms, keys, secrets, ...) merged into one, largest amount first."""
    groups: dict[tuple[str, str, str], list[Line]] = {}
    for line in lines:
        groups.setdefault((line.tier, line.kind, line.detail), []).append(line)
    merged = [
        alike[0]
        if len(alike) == 1
        else Line(
            tier,
            f"{alike[0].name} (+{len(alike) - 1} alike)",
            kind,
            sum(line.monthly for line in alike),
            f"{len(alike)} × ({detail})",
        )
        for (tier, kind, detail), alike in groups.items()
    ]
    return sorted(merged, key=lambda line: (-line.monthly, TIERS.index(line.tier), line.name))


def _tier_label(tier: str) -> str:
    return "usage (assumptions)" if tier == USAGE_TIER else tier


def _environment(estimate: EnvEstimate, markdown: bool, collapsed: bool) -> str:
    tiers = estimate.by_tier()
    assumptions = ", ".join(f"{f.name}={getattr(estimate.assumptions, f.name):,}" for f in fields(estimate.assumptions))
    free = ", ".join(f"{count} {type_}" for type_, count in estimate.free) or "none"
    lines = grouped(estimate.lines)
    if markdown:
        return _environment_markdown(estimate, tiers, lines, assumptions, free, collapsed)
    out = [
        f"=== {estimate.env}: {usd(estimate.total)} a month ===",
        "By tier: " + " | ".join(f"{_tier_label(t)} {usd(v)}" for t, v in tiers.items()),
        "By resource:",
    ]
    out += [
        f"  {usd(line.monthly):>10}  {line.tier:<11} {line.name:<40} {line.kind:<42} {line.detail}" for line in lines
    ]
    if estimate.comparisons:
        out.append("The spec's cost choices (not added to the total):")
        for c in estimate.comparisons:
            out += [
                f"  {usd(c.chosen_monthly):>10}  deployed:    {c.chosen}",
                f"  {usd(c.alternative_monthly):>10}  alternative: {c.alternative}",
                f"  {usd(c.saving):>10}  saved a month by the deployed design ({c.note})",
            ]
    out.append(f"NOT COSTED ({len(estimate.not_costed)}):" if estimate.not_costed else "Not costed: none")
    out += [f"  {n.tier:<11} {n.name:<40} {n.type:<42} {n.reason}" for n in estimate.not_costed]
    out += [f"Free (no charge of their own): {free}", f"Assumptions: {assumptions}"]
    return "\n".join(out)


def _environment_markdown(
    estimate: EnvEstimate, tiers: dict[str, float], lines: list[Line], assumptions: str, free: str, collapsed: bool
) -> str:
    """The tiers, the spec's choices, the lines, the free types and the assumptions; folded away under the
    environment's total when ``collapsed`` (a pull request's comment). What is not costed always shows."""
    title = f"{estimate.env}: {usd(estimate.total)} a month"
    out = [
        f"<details><summary><b>{title}</b></summary>" if collapsed else f"### {title}",
        "",
        "| " + " | ".join(_tier_label(t) for t in tiers) + " |",
        "|" + "---:|" * len(tiers),
        "| " + " | ".join(usd(v) for v in tiers.values()) + " |",
        "",
    ]
    if estimate.comparisons:
        out += [
            "The spec's cost choices (not added to the total):",
            "",
            "| Deployed | Monthly | Alternative | Monthly | Saved a month |",
            "|---|---:|---|---:|---:|",
        ]
        out += [
            f"| {_cell(c.chosen)} | {usd(c.chosen_monthly)} | {_cell(c.alternative)} | "
            f"{usd(c.alternative_monthly)} | {usd(c.saving)} |"
            for c in estimate.comparisons
        ]
        out += [""] + [f"- {c.note}" for c in estimate.comparisons] + [""]
    out += ["| Monthly | Tier | Resource | Type | How |", "|---:|---|---|---|---|"]
    out += [
        f"| {usd(line.monthly)} | {line.tier} | {_cell(line.name)} | {line.kind} | {_cell(line.detail)} |"
        for line in lines
    ]
    out += ["", f"Free (no charge of their own): {free}", "", f"Assumptions: `{assumptions}`"]
    out += ["", "</details>"] if collapsed else []
    if estimate.not_costed:
        out += ["", f"> [!CAUTION]\n> **{estimate.env}: {len(estimate.not_costed)} resource(s) not costed**", ""]
        out += [f"- `{n.tier}` {n.name} ({n.type}): {n.reason}" for n in estimate.not_costed]
    return "\n".join(out)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")
