"""Shared pieces of the studies: the simulation entry point, scoring, JSON and tables.

:func:`simulate` runs a policy over N paths of any market source through :func:`mmenv.envs.rollout.rollout`
(the core calls the market's ``on_fills(bought, sold)`` hook after matching, which the market-impact
variant needs).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from mmenv.viz.style import pyplot, save_figure

__all__ = [
    "bars_validation",
    "fmt_pm",
    "pyplot",
    "save_figure",
    "score",
    "simulate",
    "write_json",
]


def simulate(policy, num_paths: int, seed: int, progress: bool = False, **env_kwargs: Any):
    """Run one episode of ``policy`` on ``num_paths`` paths: :func:`mmenv.envs.rollout.rollout` on the market.

    The core reports fills to markets that have an ``on_fills`` hook (market impact). Task arguments
    (reward, phi, alpha, action_mode) are dropped: the reward column is the P&L change.

    Args:
        policy: an :class:`mmenv.policy.Policy` (depths in price units; +inf withdraws a side).
        num_paths: P. seed: seeds the market's generator (common random numbers across policies).
        progress: tqdm bar over the steps. env_kwargs: the env's market arguments (MarketParams fields,
            ``market=`` and its switches).
    """
    from mmenv.envs.rollout import rollout

    kw = {k: v for k, v in env_kwargs.items() if k not in ("reward", "phi", "alpha", "action_mode")}
    return rollout(policy, num_paths, seed, progress=progress, **kw)


def score(ro, horizon: int = 5) -> dict[str, Any]:
    """Every metric of a rollout: :func:`mmenv.analytics.summarize_rollout` plus the attribution and fill rate.

    The attribution is :func:`mmenv.analytics.attribute_rollout` (spread + inventory - fees = P&L exactly),
    averaged over paths; adverse selection is the markout of the fills at ``horizon`` steps (and at 1 step).
    """
    from mmenv.analytics import scores as analytics

    out = dict(analytics.summarize_rollout(ro))
    a = analytics.attribute_rollout(ro, (1, horizon))
    out.update(
        spread_pnl=float(a["spread"].mean()),
        inventory_pnl=float(a["inventory"].mean()),
        adverse_selection_pnl=float(a[f"adverse_{horizon}"].mean()),
        adverse_selection_1=float(a["adverse_1"].mean()),
        fees=float(a["fees"].mean()),
    )
    quoted = np.isfinite(ro.bid).sum() + np.isfinite(ro.ask).sum()
    fills = np.count_nonzero(ro.bought) + np.count_nonzero(ro.sold)
    out["fill_rate"] = float(fills / quoted) if quoted else float("nan")
    out["inventory_var"] = out["inventory_std"] ** 2
    return out


def bars_validation(bars: Any, what: str) -> dict[str, Any] | None:
    """Print the validation summary of bars read from a file or downloaded (:func:`mmenv.data.validate_bars`)
    and return it for the JSON outputs; None for bars that were not validated (the synthetic market)."""
    from mmenv.data import BarReport

    d = getattr(bars, "attrs", {}).get("validation")
    if d is None:
        return None
    print(f"bars of {what}: " + BarReport.from_dict(d).summary().replace("\n", "; "))
    return d


def fmt_pm(mean: float, se: float, width: int = 7, prec: int = 2) -> str:
    """``mean ± se`` with fixed width."""
    return f"{mean:{width}.{prec}f} ± {se:<5.{prec}f}"


#: Why a value of a metrics file is null: written under the key ``_nulls`` of every file that has one.
NULL_REASON = (
    "JSON has no token for NaN or infinity: each value listed here was not finite and is written as null. "
    "NaN means undefined (a ratio with a zero or undefined base, or a statistic of an empty sample); "
    "inf and -inf an unbounded value."
)


def _clean(obj: Any, where: str = "", nulls: dict[str, str] | None = None) -> Any:
    """``obj`` with numpy scalars and arrays as Python values, non-finite floats as None (listed in nulls)."""
    if isinstance(obj, dict):
        return {str(k): _clean(v, f"{where}.{k}" if where else str(k), nulls) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v, f"{where}[{i}]", nulls) for i, v in enumerate(obj)]
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        if math.isfinite(v):
            return v
        if nulls is not None:
            nulls[where or "."] = str(v)
        return None
    if isinstance(obj, (np.integer, np.bool_)):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return _clean(obj.tolist(), where, nulls)
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_json(obj: Any, path: Path) -> None:
    """Write JSON atomically (unique temporary file, then rename); never a NaN or Infinity token.

    Non-finite floats become null; the key ``_nulls`` lists each of them (its path, its value) with the reason
    (:data:`NULL_REASON`). ``obj`` must be a dict (a JSON object), so that the reason always has a place: a
    list of rows goes under a key (e.g. ``{"rows": [...]}``).
    """
    from mmenv.outdir import atomic_write_text

    if not isinstance(obj, dict):
        raise TypeError(
            f"write_json writes a JSON object (a dict), got {type(obj).__name__}; put rows under a key"
        )
    nulls: dict[str, str] = {}
    clean = _clean(obj, "", nulls)
    if nulls:
        clean["_nulls"] = {"why": NULL_REASON, "values": nulls}
    atomic_write_text(path, json.dumps(clean, indent=2, allow_nan=False) + "\n")
