"""The study report: ``mmenv report --out DIR`` writes DIR/report.md, report.html, its figures and metrics.json.

An executive summary, then sections I-X: the dealer's dilemma and the model, data and ticks, calibration,
gamma and volatility sensitivity, the engine, the backtest, attribution and risk, the model's weaknesses,
the strategy comparison, and what the evidence says. Every number and figure is computed by the run that
writes it, offline on the embedded synthetic market by default (``--ticker NVDA`` or ``--bars-csv PATH`` add
real bars); ``--quick`` shrinks every study (about a minute). The HTML page is self-contained: figures
inlined, formulas rendered to MathML, nothing loaded from the network. ``--readme README.md`` rewrites the
README's key-results block from this run's metrics (``--from-metrics`` does so without a run).

The report is a list of :class:`Section` objects (:data:`SECTIONS`, in reading order). A section is a
number, a title and one or more *parts*: functions ``part(rep, cfg)`` that add markdown with
:meth:`Report.add`, figures with :meth:`Report.figure` (a caption that says what the figure shows and what to
read from it) and numbers to ``rep.metrics``. ``needs`` names sections whose metrics a section reads (they
are computed first). The executive summary is built from ``metrics.json`` alone by
:mod:`mmenv.studies.report_summary`.
"""

from __future__ import annotations

import argparse
import json
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmenv.outdir import staged
from mmenv.studies import replay as real_data
from mmenv.studies import report_intensity as ri
from mmenv.studies import report_rl as rr
from mmenv.studies import report_sections as rs
from mmenv.studies.common import write_json
from mmenv.viz.html import github_slug, markdown_to_html

__all__ = ["SECTIONS", "Report", "Section", "configure_parser", "run", "write_report"]

Part = Callable[["Report", dict], None]


@dataclass(frozen=True)
class Section:
    """One numbered section of the report.

    Attributes:
        number: roman numeral ("I" .. "X"). title: heading text after the number.
        parts: functions ``part(rep, cfg)`` run in order; each adds markdown, figures and metrics. A part
            that raises is reported in its section (the error is printed there) and the others still run.
        needs: numbers of the sections whose metrics this one reads (computed before it).
    """

    number: str
    title: str
    parts: tuple[Part, ...]
    needs: tuple[str, ...] = ()

    @property
    def heading(self) -> str:
        """``"IX. Strategy comparison"``."""
        return f"{self.number}. {self.title}"

    @property
    def anchor(self) -> str:
        """The heading's anchor id (GitHub's rule), e.g. ``"ix-strategy-comparison"``."""
        return github_slug(self.heading)


@dataclass
class Report:
    """Collects the markdown, figures and metrics of a run; ``current`` is the section being written."""

    out: Path
    metrics: dict[str, Any] = field(default_factory=dict)
    chunks: dict[str, list[str]] = field(default_factory=dict)
    figures: dict[str, list[str]] = field(default_factory=dict)
    current: str = "_"

    def add(self, text: str) -> None:
        """Append markdown to the current section."""
        self.chunks.setdefault(self.current, []).append(text.strip("\n") + "\n")

    def figure(self, path: Path | None, shows: str, read: str) -> None:
        """Place a figure written under ``out`` with a caption: what it shows, then what to read from it."""
        if path is None:
            return
        path = Path(path)
        self.figures.setdefault(self.current, []).append(path.name)
        shows, read = shows.strip().rstrip("."), read.strip().rstrip(".")
        read = read[:1].upper() + read[1:]
        self.add(f"![{shows}]({path.name})\n\n*Figure: {shows}. {read}.*")

    @property
    def parts(self) -> list[str]:
        """Every markdown chunk added so far, in the order added."""
        return [c for chunk in self.chunks.values() for c in chunk]


#: The report's sections in reading order. To add one: write ``part(rep, cfg)`` functions (in
#: :mod:`mmenv.studies.report_sections` or a module of their own) and list them here; to add a subsection,
#: append a part to an existing section; a summary sentence goes in :data:`report_summary.SUMMARY`.
SECTIONS: tuple[Section, ...] = (
    Section("I", "The dealer's dilemma: the Avellaneda-Stoikov framework", (rs.sec_theory,), ("IV",)),
    Section("II", "Data and tick synthesis", (rs.sec_data, rs.sec_bar_limits)),
    Section(
        "III", "Calibration of the order-arrival intensity", (rs.sec_calibration, ri.sec_intensity_models)
    ),
    Section(
        "IV",
        "Risk aversion and volatility: from aggressive to defensive quoting",
        (rs.sec_sensitivity, rr.sec_vol_forecast),
    ),
    Section("V", "The engine and the AS 2008 replication", (rs.sec_engine, rs.sec_replication)),
    Section("VI", "The event-driven backtest and latency", (rs.sec_backtest, real_data.report_part)),
    Section("VII", "Attribution and risk", (rs.sec_attribution,), ("IX",)),
    Section("VIII", "The model's weaknesses, measured", (rs.sec_weaknesses,)),
    Section("IX", "Strategy comparison", (rs.sec_compare, rs.sec_rl, rr.sec_exact_optimum, rr.sec_rl_study)),
    Section(
        "X",
        "Conclusions: when Avellaneda-Stoikov is the right tool",
        (rs.sec_conclusions,),
        ("III", "IV", "VI", "VIII", "IX"),
    ),
)


def compute_order(secs: tuple[Section, ...]) -> list[Section]:
    """The sections ordered so that each comes after the ones it ``needs`` (reading order otherwise)."""
    by_num = {s.number: s for s in secs}
    done: list[Section] = []
    seen: set[str] = set()

    def visit(s: Section, stack: tuple[str, ...]) -> None:
        if s.number in seen:
            return
        if s.number in stack:
            raise ValueError(f"sections depend on each other in a cycle: {' -> '.join((*stack, s.number))}")
        for n in s.needs:
            if n not in by_num:
                raise ValueError(f"section {s.number} needs section {n!r}, which is not in the report")
            visit(by_num[n], (*stack, s.number))
        seen.add(s.number)
        done.append(s)

    for s in secs:
        visit(s, ())
    return done


def _run_section(rep: Report, sec: Section, cfg: dict) -> None:
    """Run every part of one section; a failure is printed in the section (never hidden) and the rest goes on."""
    rep.current = sec.number
    t0 = time.perf_counter()
    for part in sec.parts:
        try:
            part(rep, cfg)
        except Exception as exc:  # the report must still be written; the error is printed in it
            rep.add(f"**This part of the section failed in this run:** `{type(exc).__name__}: {exc}`")
            msg = "".join(traceback.format_exception_only(exc)).strip()
            rep.metrics.setdefault("errors", {})[f"{sec.heading} ({part.__name__})"] = msg
    rep.metrics.setdefault("timings_s", {})[sec.heading] = time.perf_counter() - t0


def assemble(metrics: dict, rep: Report, secs: tuple[Section, ...], elapsed: float, cfg: dict) -> str:
    """The markdown document: header, executive summary (from ``metrics`` alone), contents, sections."""
    from mmenv.studies.report_summary import summary_markdown

    head = (
        "# Inventory-aware market making: an Avellaneda-Stoikov study\n\n"
        f"Generated by `mmenv report` in {elapsed:.0f} s ({'quick' if cfg['quick'] else 'full'} mode, "
        f"{cfg['paths']} Monte-Carlo paths per run, seed {cfg['seed']}, data: {cfg['source']}). Every number "
        "and figure below was computed by this run; ± gives one Monte-Carlo standard error unless stated.\n"
    )
    toc = "\n".join(f"- [{s.heading}](#{s.anchor})" for s in secs)
    body = [head, "## Executive summary\n\n" + summary_markdown(metrics), "## Contents\n\n" + toc + "\n"]
    for s in secs:
        body.append(f"## {s.heading}\n\n" + "\n".join(rep.chunks.get(s.number, [])))
    return "\n".join(body).rstrip("\n") + "\n"


def write_report(out: Path, cfg: dict, progress: bool = True) -> tuple[Path, dict]:
    """Run every section (dependencies first) and write report.md, report.html and metrics.json under ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rep = Report(out)
    secs = SECTIONS
    order = compute_order(secs)
    t0 = time.perf_counter()
    it: Any = order
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(order, desc="report")
    for sec in it:
        if progress:
            it.set_postfix_str(sec.number)
        _run_section(rep, sec, cfg)
    elapsed = time.perf_counter() - t0
    rep.metrics["config"] = {k: v for k, v in cfg.items() if k != "bars"}
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
    md = assemble(metrics, rep, secs, elapsed, cfg)
    _write_text(out / "report.md", md)
    _write_text(out / "report.html", markdown_to_html(md, out, title="mmenv study report"))
    return out / "report.md", metrics


def _write_text(path: Path, text: str) -> None:
    from mmenv.outdir import atomic_write_text

    atomic_write_text(path, text)


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
    g = parser.add_mutually_exclusive_group()
    g.add_argument("--ticker", default=None, help="add 1-minute bars of this ticker (yfinance)")
    g.add_argument("--bars-csv", type=Path, default=None, help="add bars from this CSV")
    parser.add_argument("--offline", action="store_true", help="read --ticker bars from the cache only")
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
    from mmenv.studies.report_summary import update_readme

    if args.from_metrics is not None:
        if args.readme is None:
            raise SystemExit("--from-metrics needs --readme (it only rewrites the README's key results)")
        metrics = json.loads(Path(args.from_metrics).read_text())
        update_readme(args.readme, metrics, Path(args.from_metrics).parent)
        print(f"rewrote the key results of {args.readme} from {args.from_metrics}")
        return 0
    from mmenv.studies.compare import bars_for_tick_market, load_bars_arg

    bars = bars_for_tick_market(load_bars_arg(args))
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
