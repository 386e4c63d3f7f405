"""Shared pieces of the studies: the simulation entry point, scoring, JSON and tables.

:func:`simulate` runs a policy over N paths of any market source through :func:`mmenv.rollout.rollout`
(the core calls the market's ``on_fills(bought, sold)`` hook after matching, which the market-impact
variant needs).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "fmt_pm",
    "score",
    "simulate",
    "write_json",
]


def simulate(policy, num_paths: int, seed: int, progress: bool = False, **env_kwargs: Any):
    """Run one episode of ``policy`` on ``num_paths`` paths: :func:`mmenv.rollout.rollout` on the market.

    The core reports fills to markets that have an ``on_fills`` hook (market impact). Task arguments
    (reward, phi, alpha, action_mode) are dropped: the reward column is the P&L change.

    Args:
        policy: an :class:`mmenv.policy.Policy` (depths in price units; +inf withdraws a side).
        num_paths: P. seed: seeds the market's generator (common random numbers across policies).
        progress: tqdm bar over the steps. env_kwargs: the env's market arguments (MarketParams fields,
            ``market=`` and its switches).
    """
    from mmenv.rollout import rollout

    kw = {k: v for k, v in env_kwargs.items() if k not in ("reward", "phi", "alpha", "action_mode")}
    return rollout(policy, num_paths, seed, progress=progress, **kw)


def score(ro, horizon: int = 5) -> dict[str, Any]:
    """Every metric of a rollout: :func:`mmenv.analytics.summarize_rollout` plus the attribution and fill rate.

    The attribution is :func:`mmenv.analytics.attribute_rollout` (spread + inventory - fees = P&L exactly),
    averaged over paths; adverse selection is the markout of the fills at ``horizon`` steps (and at 1 step).
    """
    from mmenv import analytics

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


def fmt_pm(mean: float, se: float, width: int = 7, prec: int = 2) -> str:
    """``mean ± se`` with fixed width."""
    return f"{mean:{width}.{prec}f} ± {se:<5.{prec}f}"


def _clean(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.ndarray):
        return _clean(obj.tolist())
    if isinstance(obj, Path):
        return str(obj)
    return obj


def write_json(obj: Any, path: Path) -> None:
    """Write JSON atomically (temporary file, then rename); NaN and inf become null."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(_clean(obj), indent=2))
    os.replace(tmp, path)


def save_figure(fig, path: Path, dpi: int = 110) -> Path:
    """Save a matplotlib figure atomically and close it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    tmp = path.with_name(path.stem + ".tmp" + path.suffix)
    fig.savefig(tmp, dpi=dpi)
    os.replace(tmp, path)
    plt.close(fig)
    return path


def pyplot():
    """matplotlib.pyplot with the Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
