"""The backtest's parameters (:class:`BacktestConfig`) and their packed vector for the compiled loop."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mmenv.config import check_finite, check_positive

__all__ = ["BacktestConfig"]


# Parameters vector ``prm``.
P_QMAX, P_SIZE, P_SHARE, P_FPU, P_FRATE, P_INTERVAL, P_LATENCY, P_HORIZON, P_SIGMA = range(9)

P_WITHDRAW, P_EVERY, P_ON_QUOTES = 9, 10, 11

N_PRM = 12


@dataclass(frozen=True)
class BacktestConfig:
    """Parameters of a tick backtest.

    Attributes:
        q_max: hard inventory limit (units), > 0 (``math.inf``: none).
        order_size: units per quote, > 0 and <= q_max.
        share: fraction of each trade's size we can take, in (0, 1]; fill = min(order_size, share * size).
        fee_per_unit: fee per unit traded (price units); negative: maker rebate.
        fee_rate: fee per unit of notional; negative: rebate.
        q0: initial inventory (units), |q0| <= q_max. cash0: initial cash (price units).
        decision_interval: time between quote decisions (time units), >= 0; 0: every tick.
        latency: delay between a decision and its quotes going live (time units), >= 0.
        horizon: AS episode length T (time units), > 0: tau = horizon - ((t - t_0) mod horizon).
        sigma: volatility the policy sees (price / sqrt(time unit)), >= 0.
        allow_withdraw: a NaN depth withdraws that side (True) or raises (False, default).
        reprice_on_quotes: each tick is a quote update (mid ``m_i``) followed by the trade, and the policy
            decides on the quote update, before the trade (True, default: with ``latency = 0`` its quotes are
            live for trade ``i`` itself). False: the policy decides after the trade only ("reprice on trades":
            quotes made at ``m_i`` are live from trade ``i + 1`` on, stale by one trade and picked off when
            the mid moves more between trades than the quoted depth).
        record_every: record the state every this many events (>= 1); the first and last are always recorded.
        fill_capacity, state_capacity: rows of the record buffers (>= 4).
        chunk_size: events per chunk when cutting one in-memory stream (>= 1).
    """

    q_max: float = 1000.0
    order_size: float = 100.0
    share: float = 1.0
    fee_per_unit: float = 0.0
    fee_rate: float = 0.0
    q0: float = 0.0
    cash0: float = 0.0
    decision_interval: float = 0.0
    latency: float = 0.0
    horizon: float = 1.0
    sigma: float = 1.0
    allow_withdraw: bool = False
    reprice_on_quotes: bool = True
    record_every: int = 1
    fill_capacity: int = 1 << 16
    state_capacity: int = 1 << 16
    chunk_size: int = 1 << 20

    def __post_init__(self) -> None:
        check_positive("q_max", self.q_max, allow_inf=True)
        check_positive("order_size", self.order_size)
        if self.order_size > self.q_max:
            raise ValueError(f"order_size must be <= q_max ({self.q_max!r}), got {self.order_size!r}")
        check_positive("share", self.share)
        if self.share > 1.0:
            raise ValueError(f"share must lie in (0, 1], got {self.share!r}")
        check_finite("fee_per_unit", self.fee_per_unit)
        check_finite("fee_rate", self.fee_rate)
        check_finite("q0", self.q0)
        if abs(self.q0) > self.q_max:
            raise ValueError(
                f"q0 must lie in [-q_max, q_max] = [-{self.q_max}, {self.q_max}], got {self.q0!r}"
            )
        check_finite("cash0", self.cash0)
        check_positive("decision_interval", self.decision_interval, allow_zero=True)
        check_positive("latency", self.latency, allow_zero=True)
        check_positive("horizon", self.horizon)
        check_positive("sigma", self.sigma, allow_zero=True)
        for name in ("allow_withdraw", "reprice_on_quotes"):
            v = getattr(self, name)
            if not isinstance(v, (bool, np.bool_)):
                raise ValueError(f"{name} must be a bool, got {v!r}")
        for name, lo in (("record_every", 1), ("fill_capacity", 4), ("state_capacity", 4), ("chunk_size", 1)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
                raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}")

    def packed(self) -> np.ndarray:
        prm = np.empty(N_PRM)
        prm[P_QMAX], prm[P_SIZE], prm[P_SHARE] = self.q_max, self.order_size, self.share
        prm[P_FPU], prm[P_FRATE] = self.fee_per_unit, self.fee_rate
        prm[P_INTERVAL], prm[P_LATENCY], prm[P_HORIZON] = (
            self.decision_interval,
            self.latency,
            self.horizon,
        )
        prm[P_SIGMA], prm[P_WITHDRAW], prm[P_EVERY] = (
            self.sigma,
            float(self.allow_withdraw),
            self.record_every,
        )
        prm[P_ON_QUOTES] = float(self.reprice_on_quotes)
        return prm
