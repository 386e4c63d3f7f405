"""Event-driven backtester: a tick stream replayed through a policy, one event per tick.

Each tick ``i`` of the stream is two things at time ``t_i``: a *quote update* (the prevailing mid becomes
``m_i``) followed by a *trade* (price ``p_i``, aggressor side ``s_i``, size ``z_i``) that arrives against that
mid. A market maker on the quote feed sees ``m_i`` before the trade and can reprice; with latency its new
quotes reach the book only at ``t_i + latency``, and its older quotes stay live (stale) meanwhile.

The loop (both paths below run exactly this, event by event; ``i`` is the event index in the stream):

1. *Validate* the tick: time not NaN and not before the previous tick, finite price and mid, side +-1,
   size finite and > 0. Bad input raises ``ValueError`` naming the event index; nothing is skipped.
2. *Decision on the quote update* (``reprice_on_quotes=True``, the default): if ``t_i`` has reached the next
   decision time (every tick when ``decision_interval = 0``, else on the grid ``t_0 + j * decision_interval``),
   the policy quotes depths ``(delta_b, delta_a)`` from ``(q, tau, m_i, sigma)`` only, with ``q`` the
   inventory before trade ``i``: the trade's price, side and size are never seen by the decision that is
   matched against it (no look-ahead; tested). The quotes are the prices ``bid = m_i - delta_b``,
   ``ask = m_i + delta_a`` (resting orders: they do not move with the mid until the next decision).
   ``latency = 0``: they are live at once, for trade ``i`` itself; ``latency > 0``: they are queued and go live
   at ``t_i + latency`` (the previous quotes stay live, stale, until then).
   ``tau = horizon - ((t_i - t_0) mod horizon)``: the AS strategy is run over consecutive episodes of length
   ``horizon`` with the inventory carried over. A NaN depth raises (or withdraws that side with
   ``allow_withdraw=True``, the :class:`mmenv.policy.Policy` convention), crossed quotes (``bid >= ask``)
   raise, naming the event.
3. *Quotes going live*: queued decisions whose latency has elapsed (``decision time + latency <= t_i``)
   replace the live bid and ask, in decision order.
4. *Matching and accounting* of trade ``i``: one call to :func:`mmenv.sim.fills.match_and_settle`, the core's one
   rule (shared with the env), at the tick's mid ``m_i``: a buyer-initiated trade (side +1) at price ``p``
   reaches depth ``p - m_i`` on the ask side (the bid side's reach is ``-inf``), a seller-initiated one
   reaches ``m_i - p`` on the bid side; the flow available to us is ``share * trade size``; so our ask fills
   iff ``p >= ask``, our bid iff ``p <= bid``, ``min(order_size, share * size)`` units at our quoted price.
   The core applies the hard inventory limit (no bid when ``q + order_size > q_max``, no ask when
   ``q - order_size < -q_max``) and the fees (``fee_per_unit * units + fee_rate * notional``; negative:
   rebates).
5. *Records*: every fill, and the state every ``record_every`` events (plus the first and the last); the
   state's bid and ask are the quotes that were live against trade ``i``.

With ``reprice_on_quotes=False`` ("reprice on trades only", the behaviour of a market maker that learns the
mid only from the trade prints) step 2 runs after step 5 instead, from ``(q after trade i, m_i)``, and the
quotes go live from trade ``i + 1`` on (``latency = 0``) or at ``t_i + latency``. They are then stale by one
trade: when the mid moves more between trades than the quoted depth they are picked off, an adverse
selection created by the event ordering, not by the market maker's rule.

Two implementations of this loop give identical records, bit for bit (tested):

* :func:`run_reference` (:mod:`mmenv.backtest.reference`, the test oracle): readable Python, calling ``match_and_settle.py_func`` and any
  :class:`mmenv.policy.Policy` (``policy.quote``). Used for generic policies (passive, trend, PPO, ...).
* the fast path (:mod:`mmenv.backtest.kernel`): the same loop compiled with numba, calling ``match_and_settle`` itself, with the policy
  expressed as a :class:`QuoteRule` (the AS, symmetric and naive rules), whose kernel evaluates
  :func:`mmenv.engine.reservation_price` and :func:`mmenv.engine.optimal_spread` compiled from their own
  source (``numba.njit(engine.optimal_spread)``): one source for the formulas; or as a compiled policy
  (:class:`mmenv.sim.jit_policy.JitPolicy`, the replay's interface: a numba function of the state vector of
  :mod:`mmenv.backtest.jit_state`, called inside the loop; the reference loop calls its ``py_func``).

The stream is processed in chunks (an iterable of :class:`TickStream`, or one stream cut into views of
``chunk_size`` events), and the records are written into fixed-capacity buffers flushed to memory or to disk
(:class:`mmenv.records.Recorder`): with spilled records, memory stays flat however long the stream. With a
``sink`` (:class:`mmenv.analytics.stream.StreamingSummary`) the records are scored batch by batch and not
kept at all.

A model market (the Avellaneda-Stoikov exponential fill rule of the core) is the alternative:
:func:`backtest_model` steps :class:`mmenv.sim.core.SimulationCore` over a :class:`mmenv.markets.ModelMarket` and
records the same fills and states.

Modules: :mod:`~mmenv.backtest.stream` (input), :mod:`~mmenv.backtest.config` (parameters),
:mod:`~mmenv.sim.quote_rules` (quote rules), :mod:`~mmenv.backtest.kernel` (compiled loop),
:mod:`~mmenv.backtest.reference` (Python oracle), :mod:`~mmenv.backtest.model` (model-market backtest),
:mod:`~mmenv.backtest.result` (results and records).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from mmenv.backtest.config import BacktestConfig
from mmenv.backtest.kernel import run_fast
from mmenv.backtest.model import backtest_model
from mmenv.backtest.reference import run_reference
from mmenv.backtest.result import BacktestResult, records_from_arrays
from mmenv.backtest.stream import TickStream, iter_chunks
from mmenv.sim.jit_policy import JitPolicy, as_jit_policy
from mmenv.sim.quote_rules import RULE_AS, RULE_NAIVE, RULE_SYMMETRIC, QuoteRule, RulePolicy

__all__ = [
    "RULE_AS",
    "RULE_NAIVE",
    "RULE_SYMMETRIC",
    "BacktestConfig",
    "BacktestResult",
    "QuoteRule",
    "RulePolicy",
    "TickStream",
    "backtest",
    "backtest_model",
    "iter_chunks",
    "records_from_arrays",
    "run_fast",
    "run_reference",
]


def backtest(
    policy: Any,
    stream: TickStream | Iterable[TickStream],
    config: BacktestConfig | None = None,
    *,
    path: str = "auto",
    spill_dir: str | os.PathLike | None = None,
    progress: bool = False,
    sink: Any | None = None,
    features: Any | None = None,
) -> BacktestResult:
    """Backtest a policy on a tick stream (see the module docstring).

    Args:
        policy: a :class:`QuoteRule`, a :class:`mmenv.sim.jit_policy.JitPolicy` (a numba policy called
            inside the compiled loop) or an :class:`mmenv.policy.Policy`.
        stream: a :class:`TickStream` or an iterable of chunks. config: :class:`BacktestConfig`.
        path: "fast" (compiled: a QuoteRule, a JitPolicy, or an agent whose ``jit_policy()`` gives one: its
            compiled form then reads inventory in lots of ``config.order_size``), "reference" (Python: a
            JitPolicy's ``py_func``, an agent's ``quote``), or "auto" (fast for a QuoteRule or a JitPolicy).
            spill_dir, progress, sink: see :func:`run_fast` (``sink``: the records go to
            ``sink.update(fills, states)`` batch by batch and are not kept).
        features: a compiled policy's feature matrix, one row per event (float64); None: an empty row.
    """
    if path not in ("auto", "fast", "reference"):
        raise ValueError(f"path must be 'auto', 'fast' or 'reference', got {path!r}")
    kw: dict[str, Any] = {"spill_dir": spill_dir, "progress": progress, "sink": sink, "features": features}
    if isinstance(policy, JitPolicy):
        run = run_reference if path == "reference" else run_fast
        return run(policy, stream, config, **kw)
    rule = QuoteRule.from_policy(policy) if path != "reference" else None
    jit = as_jit_policy(policy) if path == "fast" and rule is None else None
    if path == "fast" and rule is None and jit is None:
        raise ValueError(
            f"path='fast' needs the AS (finite horizon), symmetric or naive rule or a compiled policy "
            f"(JitPolicy); {type(policy).__name__} runs on path='reference'"
        )
    if rule is not None or jit is not None:
        return run_fast(jit if rule is None else rule, stream, config, **kw)
    return run_reference(policy, stream, config, **kw)
