import numpy as np
import pytest

from agents import AvellanedaStoikovAgent, NaiveAgent, SymmetricAgent, TrendFollowingAgent
from mmenv.envs.rollout import rollout, rollout_many


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


def test_rollout_records_split_fees_between_the_fills_of_one_step():
    """Both sides filled in one step: each fill carries its own fee (the run's fee settings reach the records)."""
    from agents import NaiveAgent
    from mmenv.analytics import rollout_records
    from mmenv.envs.rollout import rollout

    ro = rollout(NaiveAgent(0.05), 20, 1, fee_per_unit=0.01, fee_rate=0.001, dt=0.01)
    assert (ro.fee_per_unit, ro.fee_rate) == (0.01, 0.001)
    path = int(np.argmax(((ro.bought > 0) & (ro.sold > 0)).sum(axis=1)))
    fills, _ = rollout_records(ro, path)
    both = np.flatnonzero((ro.bought[path] > 0) & (ro.sold[path] > 0))
    assert both.size > 0
    for j in both[:5]:
        f = fills[fills["event"] == j]
        bid_fee = 0.01 * ro.bought[path, j] + 0.001 * ro.bought[path, j] * ro.bid[path, j]
        ask_fee = 0.01 * ro.sold[path, j] + 0.001 * ro.sold[path, j] * ro.ask[path, j]
        np.testing.assert_allclose(sorted(f["fee"]), sorted([bid_fee, ask_fee]), rtol=1e-12)
    assert fills["fee"].sum() == pytest.approx(ro.fees[path].sum(), rel=1e-12)


def _as_policies():
    return {
        "as": AvellanedaStoikovAgent(gamma=0.1, k=1.5),
        "sym": SymmetricAgent(gamma=0.3, k=1.5, time_term=False),
        "naive": NaiveAgent(0.6),
    }


@pytest.mark.filterwarnings("ignore:fill_model='linear'")
@pytest.mark.parametrize(
    ("n", "kw"),
    [
        (300, {}),
        (200, {"mid_model": "binomial", "fill_model": "linear", "A": 300.0, "q_max": 4.0}),
        (150, {"market": "garch", "dt": 0.01}),
        (150, {"market": "impact", "dt": 0.01, "event_order": "move_then_fill"}),
        (5000, {"dt": 0.05}),  # thread shards over the streams of every block
    ],
)
def test_totals_without_records_equal_the_totals_of_the_records(n, kw):
    """records=False accumulates per-path totals in the compiled loop; they are the records' totals (the
    spread sum to rounding: one running sum per path against numpy's pairwise sum)."""
    from mmenv.analytics import summarize_rollout, summarize_totals
    from mmenv.envs.rollout import RolloutTotals, clip_depth

    full = rollout_many(_as_policies(), n, 3, **kw)
    tots = rollout_many(_as_policies(), n, 3, records=False, **kw)
    clip = clip_depth(kw)
    for name, ro in full.items():
        t, ref = tots[name], RolloutTotals.from_rollout(ro, clip)
        assert isinstance(t, RolloutTotals) and t.n_steps == ro.bid.shape[1]
        for field in ("pnl", "final_q", "fills", "quoted", "clipped"):
            np.testing.assert_array_equal(getattr(t, field), getattr(ref, field), err_msg=f"{name} {field}")
        np.testing.assert_allclose(t.spread_sum, ref.spread_sum, rtol=1e-13, err_msg=name)
        a, b = summarize_totals(t), summarize_rollout(ro)
        for key in a.keys() & b.keys():
            assert a[key] == pytest.approx(b[key], rel=1e-13, nan_ok=True), key
    if "A" in kw:  # deep quotes: the linear rule's clipping is counted
        assert sum(t.clipped.sum() for t in tots.values()) > 0


def test_totals_of_policies_without_a_quote_rule_come_from_the_env_loop():
    pols = {"trend": TrendFollowingAgent(), "naive": NaiveAgent(0.5)}
    tots = rollout_many(pols, 40, 2, records=False, dt=0.02)
    full = rollout_many(pols, 40, 2, dt=0.02)
    for name in pols:
        np.testing.assert_array_equal(tots[name].pnl, full[name].equity[:, -1] - full[name].equity[:, 0])
        np.testing.assert_array_equal(tots[name].final_q, full[name].inventory[:, -1])
