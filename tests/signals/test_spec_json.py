"""The feature spec and its micro-price table through JSON (a saved agent's ``signals.json``): the same spec,
every float bit for bit, and bad input refused naming the field and the value."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from mmenv.signals import FeatureSpec, MicroPriceTable, compute_features
from mmenv.signals.fit import fit_signals
from tests.signals.test_features import random_tape


@pytest.fixture(scope="module")
def spec() -> FeatureSpec:
    return fit_signals(
        random_tape(5, 3000), FeatureSpec(ofi_windows_s=(0.3, 2.5), flow_windows_s=(1.0,))
    ).spec


def _bits(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float64).view(np.uint64)


def test_round_trip_is_bit_exact(spec):
    back = FeatureSpec.from_dict(json.loads(json.dumps(spec.to_dict())))
    assert back == spec and back.to_dict() == spec.to_dict()
    a, b = spec.micro, back.micro
    # the table's floats are not round numbers: a decimal print that lost digits would show here
    assert np.unique(_bits(a.g_ticks)).size > 4
    for name in ("g_ticks", "g1_ticks"):
        np.testing.assert_array_equal(_bits(getattr(b, name)), _bits(getattr(a, name)))
    np.testing.assert_array_equal(b.counts, a.counts)
    assert b.counts.dtype == np.int64 and b.g_ticks.shape == (a.n_imbalance, a.n_spread)
    assert _bits(b.last_step_ticks) == _bits(a.last_step_ticks)
    tape = random_tape(6, 800)
    np.testing.assert_array_equal(compute_features(tape, back)[1], compute_features(tape, spec)[1])
    plain = FeatureSpec(max_age_s=7.5)
    assert FeatureSpec.from_dict(json.loads(json.dumps(plain.to_dict()))).to_dict() == plain.to_dict()


def _with(d: dict, path: tuple, value) -> dict:
    d = copy.deepcopy(d)
    node = d
    for k in path[:-1]:
        node = node[k]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return d


@pytest.mark.parametrize(
    ("path", "value", "match"),
    [
        (("spread_cap",), 2.5, r"spread_cap .*2\.5"),
        (("spread_cap",), True, "spread_cap"),
        (("max_age_s",), -1.0, r"max_age_s .*-1\.0"),
        (("max_age_s",), False, "max_age_s"),
        (("ofi_windows_s",), 1.0, r"ofi_windows_s must be a list"),
        (("flow_windows_s",), [1.0, "x"], r"flow_windows_s .*'x'"),
        (("flow_windows_s",), KeyError, "flow_windows_s is missing"),
        (("colour",), 1, "colour: unknown field"),
        (("micro",), [], r"FeatureSpec\.micro must be an object"),
        (("micro", "g_ticks", 1, 0), float("nan"), r"micro\.g_ticks\[1\]\[0\] .*nan"),
        (("micro", "g1_ticks", 0, 0), "0.1", r"micro\.g1_ticks\[0\]\[0\] .*'0\.1'"),
        (("micro", "counts", 0, 1), -3, r"micro\.counts\[0\]\[1\] .*-3"),
        (("micro", "g_ticks", 0), [0.0], r"micro\.g_ticks must be a 10 x 2"),
        (("micro", "n_imbalance"), 1, r"micro\.n_imbalance must be >= 2, got 1"),
        (("micro", "n_spread"), 3, r"micro\.g_ticks must be a 10 x 3"),
        (("micro", "empty_cells"), 99, r"micro\.empty_cells .*99"),
        (("micro", "last_step_ticks"), None, r"micro\.last_step_ticks .*None"),
        (("micro", "iterations"), KeyError, r"micro\.iterations is missing"),
    ],
)
def test_bad_fields_are_named(spec, path, value, match):
    with pytest.raises(ValueError, match=match):
        FeatureSpec.from_dict(_with(spec.to_dict(), path, value))


def test_not_an_object_is_refused():
    with pytest.raises(ValueError, match="FeatureSpec must be an object of the feature spec"):
        FeatureSpec.from_dict([1, 2])
    with pytest.raises(ValueError, match="micro must be an object of the micro-price table"):
        MicroPriceTable.from_dict("table")
