"""The study report: ``mmenv report --out DIR`` writes DIR/report.md, report.html, its figures and metrics.json.

An executive summary, then sections I-X: the dealer's dilemma and the model, data and ticks, calibration,
gamma and volatility sensitivity, the engine, the backtest, attribution and risk, the model's weaknesses,
the strategy comparison, and what the evidence says. Every number and figure is computed by the run that
writes it, offline on the embedded synthetic market by default (``--ticker NVDA`` or ``--bars-csv PATH`` add
real bars), with the shared real-data samples found under ``--data DIR`` (or the default shared-data folder)
and the tapes given by ``--lobster``, ``--trades``/``--quotes`` or ``--tape`` in sections III and VI;
``--quick`` shrinks every study (about a minute). The HTML page is self-contained: figures
inlined, formulas rendered to MathML, nothing loaded from the network. ``--readme README.md`` rewrites the
README's key-results block from this run's metrics (``--from-metrics`` does so without a run).

The package: :mod:`~mmenv.studies.report.document` (:class:`~mmenv.studies.report.document.Report`,
:class:`~mmenv.studies.report.document.Section`, the part protocol), :mod:`~mmenv.studies.report.contents`
(the sections in reading order and their parts), one module of parts per theme (``theory``, ``data``,
``calibration``, ``intensity``, ``sensitivity``, ``engine``, ``backtest``, ``real_tapes``, ``risk``,
``comparison``, ``optimality``, ``saved_studies``; what several of them compute from in ``inputs``), the
executive summary and section X from ``metrics.json`` alone (:mod:`~mmenv.studies.report.summary`) and the
README's key-results block (:mod:`~mmenv.studies.report.readme`). A section's ``needs`` names the sections
whose metrics it reads (they are computed first).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from mmenv.outdir import atomic_write_text, staged
from mmenv.studies import sources
from mmenv.studies.common import write_json
from mmenv.studies.report.contents import SECTIONS
from mmenv.studies.report.document import Report, assemble, compute_order, run_section
from mmenv.studies.report.readme import update_readme
from mmenv.studies.report.summary import summary_markdown
from mmenv.studies.simulation import bars_for_tick_market
from mmenv.viz.html import markdown_to_html

__all__ = ["configure_parser", "run", "write_report"]


def write_report(out: Path, cfg: dict, progress: bool = True) -> tuple[Path, dict]:
    """Run every section (dependencies first) and write report.md, report.html and metrics.json under ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rep = Report(out)
    secs = SECTIONS
    order = compute_order(secs)
    t0 = time.perf_counter()
    it: Any = tqdm(order, desc="report") if progress else order
    for sec in it:
        if progress:
            it.set_postfix_str(sec.number)
        run_section(rep, sec, cfg)
    elapsed = time.perf_counter() - t0
    rep.metrics["config"] = {k: v for k, v in cfg.items() if k not in ("bars", "tapes")}
    if cfg.get("tapes"):
        rep.metrics["config"]["tapes"] = {t.label: [str(p) for p in t.paths] for t in cfg["tapes"]}
    rep.metrics["elapsed_s"] = elapsed
    rep.metrics["sections"] = [
        {
            "number": s.number,
            "heading": s.heading,
            "anchor": s.anchor,
            "figures": rep.figures.get(s.number, []),
        }
        for s in secs
    ]
    write_json(rep.metrics, out / "metrics.json")
    metrics = json.loads((out / "metrics.json").read_text())  # the summary reads exactly what the file holds
    md = assemble(rep, secs, summary_markdown(metrics), elapsed, cfg)
    atomic_write_text(out / "report.md", md)
    atomic_write_text(out / "report.html", markdown_to_html(md, out, title="mmenv study report"))
    return out / "report.md", metrics


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``mmenv report``."""
    parser.add_argument("--out", type=Path, default=Path("out/report"), help="output directory")
    parser.add_argument("--quick", action="store_true", help="small sizes (about a minute)")
    parser.add_argument("--seed", type=int, default=0, help="seed of every study")
    parser.add_argument("--paths", type=int, default=None, help="paths per run (default 1000, quick 200)")
    parser.add_argument("--ppo", default=None, help="a trained PPO model to include in the comparison")
    parser.add_argument(
        "--ppo-run",
        nargs="+",
        type=Path,
        default=[],
        help="PPO run directories (mmenv train --out DIR): each is re-evaluated in this run against AS and "
        "the continuous-time CJP policy and the exact optimum of this env on its own market (section IX)",
    )
    parser.add_argument(
        "--rl-study", type=Path, default=None, help="an mmenv rl-study directory to report (section IX)"
    )
    parser.add_argument(
        "--vol-forecast",
        type=Path,
        default=None,
        help="an mmenv vol-forecast directory to report (section IV)",
    )
    sources.add_bars_arguments(parser, "add them to the report (a tick market beside the synthetic one)")
    sources.add_data_argument(parser)
    sources.add_tape_arguments(parser, "add it to the real tapes of sections III and VI (several allowed)")
    parser.add_argument(
        "--readme",
        type=Path,
        default=None,
        help="rewrite the key-results block of this README (between its key-results markers) from the "
        "run's metrics; figures and links point at --out relative to the README",
    )
    parser.add_argument(
        "--from-metrics",
        type=Path,
        default=None,
        help="with --readme: take the metrics from this metrics.json instead of running the report "
        "(its folder is the report the README links to)",
    )


def run(args: argparse.Namespace) -> int:
    """Write the report (or, with ``--from-metrics``, only the README block)."""
    if args.from_metrics is not None:
        if args.readme is None:
            raise SystemExit("--from-metrics needs --readme (it only rewrites the README's key results)")
        metrics = json.loads(Path(args.from_metrics).read_text())
        update_readme(args.readme, metrics, Path(args.from_metrics).parent)
        print(f"rewrote the key results of {args.readme} from {args.from_metrics}")
        return 0
    tapes = [replace(t, key=t.label) for t in sources.tape_sources(args)]  # reported under their label
    for t in tapes:  # checked before a run of minutes
        t.check()
    if args.data is not None and not Path(args.data).is_dir():
        raise ValueError(f"--data {args.data}: no such folder (the folder of the shared samples)")
    bars = bars_for_tick_market(sources.load_bars(args))
    source = (
        f"{args.ticker} 1-minute bars"
        if args.ticker
        else (str(args.bars_csv) if args.bars_csv else "synthetic bars")
    )
    cfg = {
        "quick": bool(args.quick),
        "seed": int(args.seed),
        "paths": int(args.paths if args.paths is not None else (200 if args.quick else 1000)),
        "days": 3 if args.quick else 10,
        "n_gamma": 6 if args.quick else 13,
        "bars": bars,
        "source": source,
        "ppo": args.ppo,
        "ppo_runs": list(args.ppo_run),
        "rl_study": args.rl_study,
        "vol_forecast": args.vol_forecast,
    }
    if args.data is not None:
        cfg["shared_data"] = args.data
    if tapes:
        cfg["tapes"] = tapes
    if cfg["paths"] < 2:
        raise SystemExit(f"--paths must be >= 2, got {cfg['paths']}")
    with staged(args.out, getattr(args, "force", False), "report") as stage:
        _, metrics = write_report(stage, cfg)
    for title, err in metrics.get("errors", {}).items():
        print(f"section failed: {title}: {err}")
    if args.readme is not None:
        update_readme(args.readme, metrics, args.out)
        print(f"rewrote the key results of {args.readme}")
    print(f"wrote {args.out / 'report.md'} and {args.out / 'report.html'} in {metrics['elapsed_s']:.1f} s")
    return 1 if metrics.get("errors") else 0
