"""Data and model drift of a champion model: pure parsing, PSI and the decision (no AWS, no MLflow).

Inputs are the strategy container's drift files (shape in contract.py): ``reference.json`` (training
data) and ``current.json`` (recent live/dry-run data plus observed performance).

- Data drift: the Population Stability Index per feature, PSI = sum_i (a_i - e_i) * ln(a_i / e_i) over the
  reference bins, e_i / a_i the reference / current proportions. An empty bin's proportion is replaced by
  EPSILON (1e-4, i.e. 0.01 %; no renormalisation) so the logarithm stays finite: a bin that fills from empty
  adds about a * ln(a / 1e-4), and one empty on both sides adds 0. The bin edges of both files must match
  (within float tolerance), else the feature is reported invalid and left out. data_drift = max feature PSI.
- Model drift: the relative drop of the observed score against the champion's training score,
  (baseline - observed) / |baseline| (higher scores are better; negative = improvement).
- A model is drifted when data_drift > the PSI threshold or model_drift > the drop threshold. Status:
  DRIFTED when any computed signal exceeds its threshold, else INSUFFICIENT_DATA when a signal could not be
  computed (a missing file, metric or champion), else OK.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from numbers import Real
from typing import Any

from . import contract

EPSILON = 1e-4
EDGE_REL_TOLERANCE = 1e-9
MAX_BINS = 1000


@dataclass(frozen=True)
class Histogram:
    edges: tuple[float, ...]
    counts: tuple[float, ...]

    @property
    def proportions(self) -> tuple[float, ...]:
        total = sum(self.counts)
        return tuple(count / total for count in self.counts)


@dataclass(frozen=True)
class DriftFile:
    """A parsed drift file: valid histograms, invalid features (name -> why) and the performance numbers."""

    features: dict[str, Histogram]
    invalid_features: dict[str, str] = field(default_factory=dict)
    performance: dict[str, Any] = field(default_factory=dict)
    generated_at: str | None = None


@dataclass(frozen=True)
class Assessment:
    status: str  # contract.DRIFT_OK | DRIFT_DETECTED | DRIFT_INSUFFICIENT_DATA
    reasons: tuple[str, ...]
    data_drift: float | None = None
    feature_psi: dict[str, float] = field(default_factory=dict)
    invalid_features: dict[str, str] = field(default_factory=dict)
    model_drift: float | None = None
    baseline_score: float | None = None
    observed_score: float | None = None

    @property
    def drifted(self) -> bool:
        return self.status == contract.DRIFT_DETECTED


def _number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


def parse_histogram(value: Any, where: str) -> Histogram:
    """{"edges": [...], "counts": [...]} -> Histogram; ValueError naming ``where`` and what is wrong.

    Edges: 2..MAX_BINS+1 strictly increasing numbers (only the outer two may be -inf/+inf); counts: one
    finite, non-negative number per bin, not all zero.
    """
    if not isinstance(value, Mapping):
        raise ValueError(f"{where}: expected an object with edges and counts")
    edges, counts = value.get("edges"), value.get("counts")
    if not isinstance(edges, list) or not 2 <= len(edges) <= MAX_BINS + 1 or not all(map(_number, edges)):
        raise ValueError(f"{where}.edges: expected 2 to {MAX_BINS + 1} numbers")
    edges_ = tuple(float(edge) for edge in edges)
    if any(math.isnan(edge) for edge in edges_) or any(math.isinf(edge) for edge in edges_[1:-1]):
        raise ValueError(f"{where}.edges: NaN, or an infinite inner edge")
    if any(left >= right for left, right in itertools.pairwise(edges_)):
        raise ValueError(f"{where}.edges: must be strictly increasing")
    if not isinstance(counts, list) or len(counts) != len(edges_) - 1:
        raise ValueError(f"{where}.counts: expected {len(edges_) - 1} numbers (one per bin)")
    if not all(_number(count) and math.isfinite(count) and count >= 0 for count in counts):
        raise ValueError(f"{where}.counts: counts must be finite, non-negative numbers (no NaN)")
    counts_ = tuple(float(count) for count in counts)
    if sum(counts_) <= 0:
        raise ValueError(f"{where}.counts: no observations (all counts are 0)")
    return Histogram(edges_, counts_)


def parse_drift_file(document: Any, name: str) -> DriftFile:
    """A drift file's JSON; ValueError when the file itself is malformed, invalid features are kept aside."""
    if not isinstance(document, Mapping):
        raise ValueError(f"{name}: expected a JSON object")
    features = document.get("features", {})
    performance = document.get("performance", {})
    if not isinstance(features, Mapping):
        raise ValueError(f"{name}.features: expected an object of feature histograms")
    if not isinstance(performance, Mapping):
        raise ValueError(f"{name}.performance: expected an object of metric values")
    valid, invalid = {}, {}
    for feature, histogram in features.items():
        try:
            valid[str(feature)] = parse_histogram(histogram, f"{name}.features.{feature}")
        except ValueError as exc:
            invalid[str(feature)] = str(exc)
    generated_at = document.get("generated_at")
    return DriftFile(valid, invalid, dict(performance), generated_at if isinstance(generated_at, str) else None)


def edges_match(reference: Histogram, current: Histogram) -> bool:
    return len(reference.edges) == len(current.edges) and all(
        left == right or math.isclose(left, right, rel_tol=EDGE_REL_TOLERANCE, abs_tol=1e-12)
        for left, right in zip(reference.edges, current.edges)
    )


def psi(reference: Histogram, current: Histogram) -> float:
    """The PSI of ``current`` against ``reference``; ValueError when their bin edges differ."""
    if not edges_match(reference, current):
        raise ValueError(
            f"bin edges differ: reference has {len(reference.edges)} edges {_short(reference.edges)}, "
            f"current {len(current.edges)} {_short(current.edges)}"
        )
    total = 0.0
    for expected, actual in zip(reference.proportions, current.proportions):
        expected, actual = max(expected, EPSILON), max(actual, EPSILON)
        total += (actual - expected) * math.log(actual / expected)
    return total


def relative_drop(baseline: float, observed: float) -> float | None:
    """(baseline - observed) / |baseline|; None when the baseline is 0 (a relative drop is undefined)."""
    if baseline == 0:
        return None
    return (baseline - observed) / abs(baseline)


def insufficient(*reasons: str) -> Assessment:
    return Assessment(contract.DRIFT_INSUFFICIENT_DATA, tuple(reasons))


def assess(
    reference: DriftFile | None,
    current: DriftFile | None,
    baseline: float | None,
    metric: str,
    psi_threshold: float,
    drop_threshold: float,
    missing: tuple[str, ...] = (),
    baseline_missing: str | None = None,
) -> Assessment:
    """The drift decision from whatever inputs exist.

    ``missing`` explains inputs the caller could not read; ``baseline_missing`` why ``baseline`` is None
    (default: the champion's run has no such metric).
    """
    reasons: list[str] = list(missing)
    feature_psi: dict[str, float] = {}
    invalid: dict[str, str] = {}
    unknown = bool(missing)
    if reference is not None and current is not None:
        invalid.update({f: f"reference: {why}" for f, why in reference.invalid_features.items()})
        for feature, expected in sorted(reference.features.items()):
            actual = current.features.get(feature)
            if actual is None:
                invalid[feature] = current.invalid_features.get(feature, "missing from current.json")
                continue
            try:
                feature_psi[feature] = psi(expected, actual)
            except ValueError as exc:
                invalid[feature] = str(exc)
        for feature in sorted(set(current.features) - set(reference.features) - set(invalid)):
            invalid[feature] = "not in reference.json"
    data_drift = max(feature_psi.values()) if feature_psi else None
    drifted = False
    if data_drift is not None:
        worst = max(feature_psi, key=feature_psi.__getitem__)
        if data_drift > psi_threshold:
            drifted = True
            reasons.append(f"data drift: PSI {data_drift:.4f} > {psi_threshold:g} (feature {worst})")
    elif reference is not None and current is not None:
        unknown = True
        reasons.append("data drift not computed: no feature has valid histograms in both files")
    if invalid:
        reasons.append(f"invalid features: {', '.join(sorted(invalid))}")

    observed = _observed(current, metric, reasons) if current is not None else None
    if baseline is not None and not math.isfinite(baseline):
        reasons.append(f"baseline {metric} {baseline} is not a finite number")
        baseline = None
    elif baseline is None and current is not None:
        reasons.append(baseline_missing or f"no baseline: the champion's run has no metric {metric}")
    model_drift = relative_drop(baseline, observed) if baseline is not None and observed is not None else None
    if baseline == 0 and observed is not None:
        reasons.append(f"model drift not computed: baseline {metric} is 0")
    if model_drift is None:
        unknown = True
    elif model_drift > drop_threshold:
        drifted = True
        reasons.append(
            f"model drift: {metric} dropped {model_drift:.1%} ({baseline:g} -> {observed:g}) > {drop_threshold:.0%}"
        )
    status = (
        contract.DRIFT_DETECTED if drifted else (contract.DRIFT_INSUFFICIENT_DATA if unknown else contract.DRIFT_OK)
    )
    if status == contract.DRIFT_OK:
        reasons.insert(
            0,
            f"no drift: max PSI {data_drift:.4f} <= {psi_threshold:g}, {metric} drop "
            f"{model_drift:.1%} <= {drop_threshold:.0%}",
        )
    return Assessment(status, tuple(reasons), data_drift, feature_psi, invalid, model_drift, baseline, observed)


def _observed(current: DriftFile, metric: str, reasons: list[str]) -> float | None:
    value = current.performance.get(metric)
    if value is None:
        reasons.append(f"current.json has no performance.{metric}")
        return None
    if not _number(value) or not math.isfinite(value):
        reasons.append(f"current.json performance.{metric}={value!r} is not a finite number")
        return None
    return float(value)


def _short(edges: tuple[float, ...]) -> str:
    shown = ", ".join(f"{edge:g}" for edge in edges[:4])
    return f"[{shown}{', ...' if len(edges) > 4 else ''}]"
