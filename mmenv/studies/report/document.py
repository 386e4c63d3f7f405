"""The report as a document: :class:`Report` (what a run writes), :class:`Section` (a numbered heading and its
parts) and :data:`Part` (a function that writes into a section), and how they become report.md.

A part is ``part(rep, cfg)``: it runs its study, adds markdown with :meth:`Report.add`, figures with
:meth:`Report.figure` (a caption that says what the figure shows and what to read from it) and its numbers to
``rep.metrics``. The parts are grouped by theme in the modules of :mod:`mmenv.studies.report`; the sections
that hold them, in reading order, are :data:`mmenv.studies.report.contents.SECTIONS`.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmenv.viz.html import github_slug

__all__ = ["Part", "Report", "Section", "assemble", "compute_order", "run_section"]

#: A part of a section: ``part(rep, cfg)`` writes markdown, figures and metrics into ``rep`` (the section being
#: written is ``rep.current``) from the run's settings ``cfg`` (``quick``, ``seed``, ``paths``, ``bars``, ...).
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


def run_section(rep: Report, sec: Section, cfg: dict) -> None:
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


def assemble(rep: Report, secs: tuple[Section, ...], summary: str, elapsed: float, cfg: dict) -> str:
    """The markdown document: header, the executive summary ``summary`` (markdown), contents, sections."""
    head = (
        "# Inventory-aware market making: an Avellaneda-Stoikov study\n\n"
        f"Generated by `mmenv report` in {elapsed:.0f} s ({'quick' if cfg['quick'] else 'full'} mode, "
        f"{cfg['paths']} Monte-Carlo paths per run, seed {cfg['seed']}, data: {cfg['source']}). Every number "
        "and figure below was computed by this run; ± gives one Monte-Carlo standard error unless stated.\n"
    )
    toc = "\n".join(f"- [{s.heading}](#{s.anchor})" for s in secs)
    body = [head, "## Executive summary\n\n" + summary, "## Contents\n\n" + toc + "\n"]
    for s in secs:
        body.append(f"## {s.heading}\n\n" + "\n".join(rep.chunks.get(s.number, [])))
    return "\n".join(body).rstrip("\n") + "\n"
