"""PSI, histogram validation and the drift decision (ml_lifecycle.drift): pure, no AWS or MLflow."""

from __future__ import annotations

import math

import pytest

from ml_lifecycle import contract
from ml_lifecycle.drift import (EPSILON, DriftFile, Histogram, assess, parse_drift_file, parse_histogram, psi,
                                relative_drop)

EDGES2, EDGES3, EDGES4 = [0, 1, 2], [0, 1, 2, 3], [0, 1, 2, 3, 4]


def hist(counts, edges=None) -> Histogram:
    return parse_histogram({"edges": edges or list(range(len(counts) + 1)), "counts": counts}, "test")


def drift_file(features: dict, performance: dict | None = None) -> DriftFile:
    return parse_drift_file({"generated_at": "2026-12-01T00:00:00Z",
                             "features": {name: {"edges": list(range(len(c) + 1)), "counts": c}
                                          for name, c in features.items()},
                             "performance": performance or {}}, "current.json")


# --- PSI: values computed by hand ------------------------------------------------------------------------------

@pytest.mark.parametrize("expected, actual, value", [
    # 50/50 -> 60/40: 0.1*ln(0.6/0.5) + (-0.1)*ln(0.4/0.5) = 0.1*ln(1.2) + 0.1*ln(1.25) = 0.1*ln(1.5)
    ([50, 50], [60, 40], 0.1 * math.log(1.5)),
    # uniform -> 10/20/30/40 %: 0.15*ln(2.5) + 0.05*ln(1.25) + 0.05*ln(1.2) + 0.15*ln(1.6) = 0.228217
    ([25, 25, 25, 25], [10, 20, 30, 40],
     0.15 * math.log(2.5) + 0.05 * math.log(1.25) + 0.05 * math.log(1.2) + 0.15 * math.log(1.6)),
    # proportions, not counts: 1000 observations against 10 with the same shape
    ([500, 500], [6, 4], 0.1 * math.log(1.5)),
    ([3, 1], [3, 1], 0.0),
])
def test_psi_matches_hand_computed_values(expected, actual, value):
    assert psi(hist(expected), hist(actual)) == pytest.approx(value, abs=1e-12)


def test_known_values_rounded():
    assert round(psi(hist([50, 50]), hist([60, 40])), 6) == 0.040547
    assert round(psi(hist([25] * 4), hist([10, 20, 30, 40])), 6) == 0.228217


def test_psi_is_symmetric_and_non_negative():
    a, b = hist([5, 10, 85]), hist([30, 30, 40])
    assert psi(a, b) == pytest.approx(psi(b, a))
    assert psi(a, b) > 0


def test_a_bin_that_fills_from_empty_uses_epsilon():
    # reference 50/50/0, current 50/40/10: 0 + 0.1*ln(1.25) + (0.1 - 1e-4)*ln(0.1 / 1e-4)
    value = psi(hist([50, 50, 0]), hist([50, 40, 10]))
    assert value == pytest.approx(0.1 * math.log(1.25) + (0.1 - EPSILON) * math.log(0.1 / EPSILON))
    assert round(value, 6) == 0.712399


def test_a_bin_empty_on_both_sides_adds_nothing():
    assert psi(hist([50, 50, 0]), hist([60, 40, 0])) == pytest.approx(0.1 * math.log(1.5))


def test_a_bin_that_empties_is_finite():
    assert math.isfinite(psi(hist([10, 90]), hist([0, 100])))


@pytest.mark.parametrize("reference_edges, current_edges", [
    ([0, 1, 2], [0, 1, 3]),
    ([0, 1, 2], [0, 1, 2, 3]),
    ([0, 1, 2], [0.5, 1, 2]),
])
def test_mismatched_edges_are_refused(reference_edges, current_edges):
    reference = hist([1] * (len(reference_edges) - 1), reference_edges)
    current = hist([1] * (len(current_edges) - 1), current_edges)

    with pytest.raises(ValueError, match="bin edges differ"):
        psi(reference, current)


def test_edges_equal_within_float_tolerance_match():
    assert psi(hist([1, 1], [0, 0.3, 1]), hist([1, 1], [0, 0.1 + 0.2, 1])) == 0.0


# --- histogram validation ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("value, message", [
    ({"edges": [0, 1, 2], "counts": [1, float("nan")]}, "counts: counts must be finite"),
    ({"edges": [0, 1, 2], "counts": [1, -1]}, "non-negative"),
    ({"edges": [0, 1, 2], "counts": [1, float("inf")]}, "finite"),
    ({"edges": [0, 1, 2], "counts": [1, True]}, "finite"),
    ({"edges": [0, 1, 2], "counts": [1, "2"]}, "finite"),
    ({"edges": [0, 1, 2], "counts": [0, 0]}, "no observations"),
    ({"edges": [0, 1, 2], "counts": [1, 2, 3]}, "expected 2 numbers"),
    ({"edges": [0, 1, 2], "counts": None}, "counts"),
    ({"edges": [0, 2, 1], "counts": [1, 1]}, "strictly increasing"),
    ({"edges": [0, 1, 1], "counts": [1, 1]}, "strictly increasing"),
    ({"edges": [0, float("nan"), 2], "counts": [1, 1]}, "NaN"),
    ({"edges": [0, float("inf"), 2], "counts": [1, 1]}, "infinite inner edge"),
    ({"edges": [0], "counts": []}, "edges: expected 2"),
    ({"edges": "0,1", "counts": [1]}, "edges"),
    ({"counts": [1]}, "edges"),
    ([0, 1], "expected an object"),
])
def test_invalid_histograms_are_rejected(value, message):
    with pytest.raises(ValueError, match=message) as raised:
        parse_histogram(value, "current.json.features.rsi")
    assert str(raised.value).startswith("current.json.features.rsi")


def test_open_outer_edges_and_float_counts_are_accepted():
    histogram = parse_histogram({"edges": [float("-inf"), 0, float("inf")], "counts": [2.5, 7.5]}, "x")
    assert histogram.proportions == (0.25, 0.75)


def test_a_drift_file_keeps_invalid_features_aside():
    parsed = parse_drift_file({"features": {"ok": {"edges": [0, 1], "counts": [3]},
                                            "bad": {"edges": [0, 1], "counts": [-3]}},
                               "performance": {"sharpe_ratio": 1.2}}, "current.json")
    assert set(parsed.features) == {"ok"}
    assert "current.json.features.bad.counts" in parsed.invalid_features["bad"]
    assert parsed.performance == {"sharpe_ratio": 1.2}


@pytest.mark.parametrize("document, message", [
    ([], "current.json: expected a JSON object"),
    ({"features": []}, "current.json.features"),
    ({"features": {}, "performance": [1]}, "current.json.performance"),
])
def test_a_malformed_drift_file_is_rejected(document, message):
    with pytest.raises(ValueError, match=message):
        parse_drift_file(document, "current.json")


# --- model drift ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("baseline, observed, drop", [
    (2.0, 1.5, 0.25), (2.0, 2.5, -0.25), (-1.0, -1.5, 0.5), (-1.0, -0.5, -0.5), (1.0, 1.0, 0.0),
])
def test_relative_drop(baseline, observed, drop):
    assert relative_drop(baseline, observed) == pytest.approx(drop)


def test_relative_drop_of_a_zero_baseline_is_undefined():
    assert relative_drop(0.0, 1.0) is None


# --- the decision --------------------------------------------------------------------------------------------------

REFERENCE = {"rsi": [50, 50], "volume": [25, 25, 25, 25]}


def decide(current_features, performance, baseline=2.0, reference=REFERENCE, missing=()):
    return assess(drift_file(reference) if reference is not None else None,
                  drift_file(current_features, performance) if current_features is not None else None,
                  baseline, "sharpe_ratio", 0.2, 0.2, missing)


def test_within_thresholds_is_ok():
    result = decide({"rsi": [60, 40], "volume": [25, 25, 25, 25]}, {"sharpe_ratio": 1.8})

    assert (result.status, result.drifted) == (contract.DRIFT_OK, False)
    assert result.data_drift == pytest.approx(0.1 * math.log(1.5))
    assert result.feature_psi == {"rsi": pytest.approx(0.1 * math.log(1.5)), "volume": 0.0}
    assert result.model_drift == pytest.approx(0.1)
    assert (result.baseline_score, result.observed_score) == (2.0, 1.8)
    assert result.reasons[0].startswith("no drift: max PSI 0.0405 <= 0.2")


def test_data_drift_is_the_max_feature_psi():
    result = decide({"rsi": [60, 40], "volume": [10, 20, 30, 40]}, {"sharpe_ratio": 2.0})

    assert result.status == contract.DRIFT_DETECTED and result.drifted
    assert result.data_drift == pytest.approx(0.228217, abs=1e-6)
    assert result.reasons == ("data drift: PSI 0.2282 > 0.2 (feature volume)",)


def test_model_drift_alone_flags_the_model():
    result = decide({"rsi": [50, 50], "volume": [25, 25, 25, 25]}, {"sharpe_ratio": 1.2})

    assert result.drifted and result.model_drift == pytest.approx(0.4)
    assert result.reasons == ("model drift: sharpe_ratio dropped 40.0% (2 -> 1.2) > 20%",)


def test_thresholds_are_exclusive():
    at_threshold = decide({"rsi": [50, 50], "volume": [25, 25, 25, 25]}, {"sharpe_ratio": 1.6})
    assert at_threshold.model_drift == pytest.approx(0.2) and not at_threshold.drifted


def test_a_feature_with_mismatched_edges_is_invalid_and_left_out():
    reference = drift_file(REFERENCE)
    current = parse_drift_file({"features": {"rsi": {"edges": [0, 1, 2], "counts": [60, 40]},
                                             "volume": {"edges": [0, 2, 4], "counts": [1, 1]}},
                                "performance": {"sharpe_ratio": 2.0}}, "current.json")

    result = assess(reference, current, 2.0, "sharpe_ratio", 0.2, 0.2)

    assert set(result.feature_psi) == {"rsi"}
    assert "bin edges differ" in result.invalid_features["volume"]
    assert result.status == contract.DRIFT_OK
    assert "invalid features: volume" in result.reasons


def test_features_missing_on_either_side_are_reported():
    result = decide({"rsi": [50, 50], "spread": [1, 1]}, {"sharpe_ratio": 2.0})

    assert result.invalid_features == {"volume": "missing from current.json", "spread": "not in reference.json"}


def test_no_comparable_feature_is_insufficient_data():
    result = decide({"spread": [1, 1]}, {"sharpe_ratio": 2.0})

    assert result.status == contract.DRIFT_INSUFFICIENT_DATA and result.data_drift is None
    assert "data drift not computed" in " ".join(result.reasons)


def test_a_missing_reference_with_a_healthy_score_is_insufficient_data():
    result = decide({"rsi": [50, 50]}, {"sharpe_ratio": 2.0}, reference=None, missing=("no reference.json",))

    assert result.status == contract.DRIFT_INSUFFICIENT_DATA and result.model_drift == 0.0
    assert result.reasons[0] == "no reference.json"


def test_a_missing_reference_does_not_hide_a_score_drop():
    result = decide({"rsi": [50, 50]}, {"sharpe_ratio": 1.0}, reference=None, missing=("no reference.json",))

    assert result.status == contract.DRIFT_DETECTED and result.model_drift == pytest.approx(0.5)


@pytest.mark.parametrize("performance, baseline, reason", [
    ({}, 2.0, "current.json has no performance.sharpe_ratio"),
    ({"sharpe_ratio": float("nan")}, 2.0, "is not a finite number"),
    ({"sharpe_ratio": "high"}, 2.0, "is not a finite number"),
    ({"sharpe_ratio": 1.0}, None, "no baseline: the champion's run has no metric sharpe_ratio"),
    ({"sharpe_ratio": 1.0}, 0.0, "baseline sharpe_ratio is 0"),
    ({"sharpe_ratio": 1.0}, float("nan"), "not a finite number"),
])
def test_model_drift_not_computable_is_insufficient_without_data_drift(performance, baseline, reason):
    result = decide({"rsi": [50, 50], "volume": [25, 25, 25, 25]}, performance, baseline=baseline)

    assert result.status == contract.DRIFT_INSUFFICIENT_DATA and result.model_drift is None
    assert any(reason in text for text in result.reasons)


def test_data_drift_still_flags_without_a_baseline():
    result = decide({"rsi": [90, 10], "volume": [25, 25, 25, 25]}, {"sharpe_ratio": 1.0}, baseline=None)

    assert result.status == contract.DRIFT_DETECTED and result.model_drift is None
