import numpy as np
import pytest

from agents import AvellanedaStoikovAgent, NaiveAgent, SymmetricAgent, TrendFollowingAgent
from mmenv.rollout import rollout, rollout_many


@pytest.mark.filterwarnings("ignore:fill_model='linear'")  # the paper's clipped rule, on purpose
@pytest.mark.parametrize(
    ("n", "kw"),
    [
        (300, {}),
        (200, {"mid_model": "binomial", "fill_model": "linear", "q_max": 5.0}),
        (5000, {"dt": 0.02}),  # large enough for thread shards per block
    ],
)
def test_rollout_many_equals_separate_rollouts_bit_for_bit(n, kw):
    def policies():
        return {
            "as": AvellanedaStoikovAgent(gamma=0.1, k=1.5),
            "sym": SymmetricAgent(gamma=0.1, k=1.5),
            "naive": NaiveAgent(0.6),
            "trend": TrendFollowingAgent(),
        }

    many = rollout_many(policies(), n, 7, **kw)
    for name, pol in policies().items():
        one = rollout(pol, n, 7, **kw)
        for field in ("mid", "inventory", "cash", "equity", "bid", "ask", "bought", "sold", "fees", "reward"):
            np.testing.assert_array_equal(getattr(many[name], field), getattr(one, field), err_msg=field)
    # common random numbers: every strategy saw the same mid path
    np.testing.assert_array_equal(many["as"].mid, many["naive"].mid)


def test_rollout_many_on_other_markets_runs_each_policy():
    out = rollout_many({"a": NaiveAgent(0.5), "b": NaiveAgent(0.9)}, 50, 1, market="toxic", dt=0.01)
    assert set(out) == {"a", "b"} and out["a"].mid.shape == (50, 101)
    np.testing.assert_array_equal(out["a"].mid, out["b"].mid)  # same seed: same market path


def test_crn_groups_must_divide_paths():
    from mmenv.config import MarketParams
    from mmenv.markets import ModelMarket

    with pytest.raises(ValueError, match="crn_groups"):
        ModelMarket(MarketParams(), 10, crn_groups=3)


def test_rollout_many_needs_a_policy():
    with pytest.raises(ValueError, match="policies"):
        rollout_many({}, 10, 0)
