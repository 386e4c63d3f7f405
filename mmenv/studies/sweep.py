"""Sweeps of the AS strategy (gamma grid x seeds x markets) on Ray Tune, locally or on a Ray cluster.

Each trial is one (gamma, seed, market) cell of :func:`mmenv.studies.sensitivity.run_sensitivity`: the AS
strategy with that gamma on ``paths`` paths of the market (``"model"`` or a variant of
:mod:`mmenv.markets.variants`: ``garch``, ``trend``, ``toxic``, ...), scored by the one analytics module.
The rows gather into the same ``metrics.json`` shape and the same mean-std frontier figures as
``mmenv sensitivity``, whatever the backend:

* ``backend="ray"`` (default of ``mmenv sweep``): Ray Tune runs the trials. Without ``--address`` a local
  Ray starts with ``ray.init(num_cpus=2, include_dashboard=False)``, usage statistics off
  (``RAY_USAGE_STATS_ENABLED=0``), token authentication off for the local cluster (``RAY_AUTH_MODE=disabled``)
  and its temporary directory in a fresh directory of the run (removed afterwards); with ``--address``
  (``auto``, ``host:6379`` or ``ray://host:10001``) the trials run on that existing cluster, whose nodes
  must have mmenv installed.
* ``backend="local"``: the same trials in a loop in this process.

Every trial seeds its own generator from its ``seed``, so both backends give identical rows (tested).

``metrics.json``: ``{"rows": [...], "paths", "seeds", "gammas", "markets", "backend", "summary"}``; each row
has the keys of ``mmenv sensitivity`` (gamma, mean_pnl, mean_pnl_se, std_pnl, std_pnl_se, inventory_std,
fill_rate, mean_spread, sharpe) plus ``seed`` and ``market``. ``summary`` averages the rows over seeds per
(market, gamma) (standard errors combined as sqrt(sum se^2) / n_seeds); the figure
``sweep_frontier_<market>.png`` plots that summary with :func:`mmenv.studies.sensitivity.plot_frontier`.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from mmenv.envs.env import build_simulation
from mmenv.outdir import staged
from mmenv.studies.common import write_json
from mmenv.studies.sensitivity import ROW_KEYS, plot_frontier, run_sensitivity
from mmenv.studies.simulation import MODEL_MARKET

__all__ = [
    "configure_parser",
    "init_ray",
    "run",
    "run_sweep",
    "summarize_rows",
    "sweep_trial",
    "write_sweep",
]


def market_kwargs(market: str) -> dict[str, Any]:
    """Env arguments of a market name: the model market of the studies, or that variant with its defaults."""
    return {**MODEL_MARKET, "market": market}


def sweep_trial(config: dict[str, Any]) -> dict[str, Any]:
    """One cell: AS with ``config["gamma"]`` on ``config["paths"]`` paths of ``config["market"]``, seed ``config["seed"]``."""
    row = run_sensitivity(
        np.array([float(config["gamma"])]),
        int(config["paths"]),
        int(config["seed"]),
        market=market_kwargs(str(config["market"])),
    )[0]
    return {**row, "seed": int(config["seed"]), "market": str(config["market"])}


def init_ray(
    address: str | None = None, num_cpus: int = 2, temp_dir: str | os.PathLike | None = None
) -> None:
    """Connect to the cluster at ``address``, or start a local Ray (module docstring) when it is None."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    import ray

    if ray.is_initialized():
        return
    if address:
        ray.init(address=address, log_to_driver=False)
        return
    ray.init(
        num_cpus=num_cpus,
        include_dashboard=False,
        log_to_driver=False,
        _temp_dir=None if temp_dir is None else str(temp_dir),
    )


def _check_grid(gammas, seeds, markets, paths) -> None:
    if not gammas or any(not (isinstance(g, (int, float)) and math.isfinite(g) and g >= 0) for g in gammas):
        raise ValueError(f"gammas must be a non-empty list of finite numbers >= 0, got {gammas!r}")
    if not seeds or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds):
        raise ValueError(f"seeds must be a non-empty list of integers >= 0, got {seeds!r}")
    if not markets or any(not isinstance(m, str) for m in markets):
        raise ValueError(f"markets must be a non-empty list of market names, got {markets!r}")
    if isinstance(paths, bool) or not isinstance(paths, int) or paths < 2:
        raise ValueError(f"paths must be an integer >= 2, got {paths!r}")


def run_sweep(
    gammas: list[float],
    seeds: list[int],
    markets: list[str],
    paths: int = 500,
    backend: str = "ray",
    address: str | None = None,
    num_cpus: int = 2,
    progress: bool = False,
) -> list[dict[str, Any]]:
    """All (market, gamma, seed) cells, sorted by (market, gamma, seed); see the module docstring.

    Args:
        gammas: AS risk aversions (1 / price unit). seeds: market seeds. markets: market names.
        paths: Monte-Carlo paths per cell. backend: "ray" or "local". address: Ray cluster address (None:
            a local Ray with ``num_cpus`` CPUs). progress: tqdm bar (local backend).
    """
    _check_grid(gammas, seeds, markets, paths)
    for m in markets:  # fail fast, in the driver, on an unknown market
        build_simulation(1, market_kwargs(m))
    configs = [
        {"gamma": float(g), "seed": int(s), "market": m, "paths": int(paths)}
        for m in markets
        for g in gammas
        for s in seeds
    ]
    if backend == "local":
        it = configs
        if progress:
            it = tqdm(configs, desc="sweep", leave=False)
        rows = [sweep_trial(c) for c in it]
    elif backend == "ray":
        rows = _run_ray(configs, address, num_cpus)
    else:
        raise ValueError(f"backend must be 'ray' or 'local', got {backend!r}")
    return sorted(rows, key=lambda r: (markets.index(r["market"]), r["gamma"], r["seed"]))


def _run_ray(configs: list[dict[str, Any]], address: str | None, num_cpus: int) -> list[dict[str, Any]]:
    import ray

    own = not ray.is_initialized()
    tmp = tempfile.mkdtemp(prefix="mmray") if own and not address else None
    try:
        if own:
            init_ray(address, num_cpus, tmp)
        from ray import tune

        storage = tempfile.mkdtemp(prefix="mmenv-tune-")
        try:
            # one grid axis over whole cells (the trainable unwraps it): exactly the local backend's configs
            tuner = tune.Tuner(
                tune.with_resources(_cell_trainable, {"cpu": 1}),
                param_space={"cell": tune.grid_search(configs)},
                tune_config=tune.TuneConfig(reuse_actors=True),
                run_config=tune.RunConfig(storage_path=storage, name="mmenv_sweep", verbose=0),
            )
            grid = tuner.fit()
            errors = [r.error for r in grid if r.error is not None]
            if errors:
                raise RuntimeError(f"{len(errors)} sweep trial(s) failed; first error: {errors[0]!r}")
            rows = []
            for r in grid:
                rows.append({k: r.metrics[k] for k in (*ROW_KEYS, "seed", "market")})
            return rows
        finally:
            shutil.rmtree(storage, ignore_errors=True)
    finally:
        if own:
            ray.shutdown()
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _cell_trainable(config: dict[str, Any]) -> None:
    from ray import tune

    tune.report(sweep_trial(config["cell"]))


def summarize_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Average the rows over seeds per (market, gamma); SEs combined as sqrt(sum se^2) / n."""
    groups: dict[tuple[str, float], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["market"], r["gamma"]), []).append(r)
    out = []
    for (market, gamma), rs in groups.items():
        n = len(rs)
        s: dict[str, Any] = {"market": market, "gamma": gamma, "n_seeds": n}
        for k in ROW_KEYS[1:]:
            if any(k not in r for r in rs):
                continue  # rows from before a column was added
            if k.endswith("_se"):
                s[k] = float(math.sqrt(sum(r[k] ** 2 for r in rs)) / n)
            else:
                s[k] = float(np.mean([r[k] for r in rs]))
        out.append(s)
    return out


def write_sweep(
    rows: list[dict[str, Any]], out: Path, meta: dict[str, Any], plot: bool = True
) -> dict[str, Any]:
    """Write ``out/metrics.json`` and one frontier figure per market; returns the metrics dict."""
    out.mkdir(parents=True, exist_ok=True)
    summary = summarize_rows(rows)
    metrics = {**meta, "rows": rows, "summary": summary}
    write_json(metrics, out / "metrics.json")
    if plot:
        for market in dict.fromkeys(r["market"] for r in summary):
            plot_frontier([r for r in summary if r["market"] == market], out / f"sweep_frontier_{market}.png")
    return metrics


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``mmenv sweep``."""
    parser.add_argument(
        "--gammas", type=float, nargs="+", default=[0.01, 0.03, 0.1, 0.3, 1.0], help="gamma grid"
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="market seeds")
    parser.add_argument("--markets", nargs="+", default=["model", "garch", "toxic", "trend"], help="markets")
    parser.add_argument("--paths", type=int, default=500, help="paths per cell")
    parser.add_argument(
        "--backend", choices=["ray", "local"], default="ray", help="run on Ray Tune or locally"
    )
    parser.add_argument("--address", default=None, help="Ray cluster address (default: start a local Ray)")
    parser.add_argument("--num-cpus", type=int, default=2, help="CPUs of the local Ray")
    parser.add_argument("--out", type=Path, default=Path("out/sweep"), help="output directory")
    parser.add_argument("--no-plot", action="store_true", help="skip the figures")


def run(args: argparse.Namespace) -> int:
    """Run the sweep, print the per-market summary, write metrics.json and figures."""
    t0 = time.perf_counter()
    with staged(args.out, getattr(args, "force", False), "sweep") as out:
        rows = run_sweep(
            args.gammas,
            args.seeds,
            args.markets,
            paths=args.paths,
            backend=args.backend,
            address=args.address,
            num_cpus=args.num_cpus,
            progress=True,
        )
        meta = {
            "paths": args.paths,
            "seeds": args.seeds,
            "gammas": args.gammas,
            "markets": args.markets,
            "backend": args.backend,
        }
        metrics = write_sweep(rows, out, meta, plot=not args.no_plot)
    print(
        f"sweep: {len(rows)} cells ({len(args.markets)} markets x {len(args.gammas)} gammas x {len(args.seeds)} "
        f"seeds, {args.paths} paths) on {args.backend}, {time.perf_counter() - t0:.1f} s"
    )
    print(f"{'market':<12}{'gamma':>8}{'mean P&L':>16}{'std P&L':>9}{'inv std':>9}")
    for r in metrics["summary"]:
        print(
            f"{r['market']:<12}{r['gamma']:>8.3g}{r['mean_pnl']:>9.2f} ± {r['mean_pnl_se']:<4.2f}"
            f"{r['std_pnl']:>9.2f}{r['inventory_std']:>9.2f}"
        )
    print(f"wrote {args.out / 'metrics.json'}")
    return 0
