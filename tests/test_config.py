import math

import pytest

from mmenv.config import MarketParams


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("s0", 0.0),
        ("s0", -1.0),
        ("s0", math.nan),
        ("sigma", -0.1),
        ("sigma", math.inf),
        ("A", 0.0),
        ("k", -1.5),
        ("dt", 0.0),
        ("T", -1.0),
        ("q_max", 0.5),
        ("q_max", math.nan),
        ("order_size", 0.0),
        ("mu", math.nan),
        ("fee_rate", math.inf),
        ("mid_model", "levy"),
        ("fill_model", "quadratic"),
    ],
)
def test_bad_value_names_field_and_value(field, value):
    with pytest.raises(ValueError, match=field) as exc:
        MarketParams(**{field: value})
    if isinstance(value, str):
        assert value in str(exc.value)
    else:
        assert repr(value) in str(exc.value) or str(value) in str(exc.value)


def test_defaults_are_the_paper_market():
    p = MarketParams()
    assert (p.s0, p.sigma, p.T, p.dt, p.A, p.k) == (100.0, 2.0, 1.0, 0.005, 140.0, 1.5)
    assert p.n_steps == 200


def test_non_integer_step_count_rejected():
    with pytest.raises(ValueError, match="T / dt"):
        MarketParams(T=1.0, dt=0.3)


def test_q0_outside_limit_rejected():
    with pytest.raises(ValueError, match="q0"):
        MarketParams(q0=30.0, q_max=25.0)


def test_frozen():
    p = MarketParams()
    with pytest.raises(AttributeError):
        p.sigma = 3.0  # type: ignore[misc]


def test_linear_fill_with_large_a_dt_warns():
    with pytest.warns(UserWarning, match="A\\*dt"):
        MarketParams(A=500.0, dt=0.005, fill_model="linear")
