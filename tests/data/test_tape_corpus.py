"""The corpus of corrupted real tapes (:mod:`tests.data.tape_corpus`): every case is refused in one line that
names the file and says what to do (exit status 2, nothing written), or repaired with its repairs reported
and A, k and sigma close to the clean slice's.

Tolerances: a repaired case's A, k and sigma lie within ``case.tol`` standard errors of the clean slice's fit
(the standard errors of the MLE of the Avellaneda-Stoikov intensity and of the realised volatility; the slices
have 244 to 2,501 trades, so one standard error of A is 3-9% of it); ``tol = 0`` means identical. Dropping
``m`` of ``n`` orders moves A by about ``m / sqrt(n)`` of its standard error (0.1 to 0.3 for the five bad
prints), so 0.5 is a tight bound; the corrupted files read without the repairs are off by factors. The
library runs every case (fast); the command (``mmenv calibrate``) runs every refused case here and a sample
of the repaired ones, the rest under ``-m slow``.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import pytest

from mmenv.calibration import calibrate
from mmenv.calibration.trades import TradesAndQuotes
from mmenv.cli import main
from mmenv.data.loaders import load
from tests.conftest import SHARED_DATA
from tests.data.tape_corpus import CASES, Case, clean_files, write_case, write_slices

pytestmark = pytest.mark.skipif(
    SHARED_DATA is None, reason="the shared samples are absent (set MMENV_SHARED_DATA to the folder)"
)

REFUSED = [c for c in CASES if c.refused is not None]
REPAIRED = [c for c in CASES if c.refused is None]
#: Repaired cases run through the command in the default suite (one per kind of repair); the rest: -m slow.
CLI_REPAIRED = ("lobster bad prints", "binance clock jump")


@pytest.fixture(scope="module")
def slices(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("slices")
    write_slices(root, SHARED_DATA)
    return root


def fit_tape(fmt: str, files, opts):
    """(tape, calibration) of the files read in ``fmt`` with the loader options ``opts``."""
    tape = load(fmt, *files, **opts)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return tape, calibrate(TradesAndQuotes.from_tape(tape), least_squares=False)


@pytest.fixture(scope="module")
def clean_fits(slices) -> dict:
    return {key: fit_tape(*clean_files(slices, key)) for key in ("lobster", "usdm", "cm")}


def _flags(fmt: str, files) -> list[str]:
    if fmt == "lobster":
        return ["--lobster", *map(str, files)]
    if fmt == "binance":
        return ["--trades", str(files[0]), "--quotes", str(files[1])]
    return ["--tape", str(files[0])]


def _argv(fmt: str, files, opts) -> list[str]:
    argv = _flags(fmt, files)
    for k, v in opts.items():
        argv += [f"--{k.replace('_', '-')}", repr(v)]
    return argv


def found(tape, rule: str) -> float:
    """What the validation of ``tape`` counted under ``rule`` (dropped, repaired or kept; ``"a+b"``: a sum)."""
    v = tape.validation
    every = {**v.dropped, **v.repaired, **v.kept}
    return sum(every.get(r, 0) for r in rule.split("+"))


@pytest.mark.parametrize("case", REFUSED, ids=[c.id for c in REFUSED])
def test_refused_in_one_line(case: Case, slices, tmp_path, capsys):
    fmt, files, opts = write_case(case, slices, tmp_path / "in")
    out = tmp_path / "out"
    rc = main(["calibrate", *_argv(fmt, files, opts), "--no-plot", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert err.count("\n") == 1 and err.startswith("mmenv calibrate: error: "), err  # no warning before it
    assert case.refused in err, err
    assert "; " in err.split(": error: ", 1)[1]  # what; what to do
    assert any(f.name in err for f in files), err  # names the file
    assert "Traceback" not in err and not out.exists()


@pytest.mark.parametrize("case", REPAIRED, ids=[c.id for c in REPAIRED])
def test_repaired_close_to_the_clean_slice(case: Case, slices, clean_fits, tmp_path):
    clean_tape, clean = clean_fits[case.key]
    tape, fit = fit_tape(*write_case(case, slices, tmp_path / "in"))
    for rule, n in case.counts.items():
        assert found(tape, rule) == n, (rule, tape.validation.summary())
    if case.same_tick:
        assert tape.tick == clean_tape.tick and tape.lot == clean_tape.lot
    if case.tol == 0:
        assert (fit.A, fit.k, fit.sigma) == (clean.A, clean.k, clean.sigma)
    for name, se in (("A", clean.intensity.A_se), ("k", clean.intensity.k_se), ("sigma", clean.sigma_se)):
        got, want = getattr(fit, name), getattr(clean, name)
        assert abs(got - want) <= case.tol * se, (name, got, want, se)


def _run_repaired(case: Case, slices, tmp_path, capsys) -> None:
    fmt, files, opts = write_case(case, slices, tmp_path / "in")
    out = tmp_path / "out"
    rc = main(["calibrate", *_argv(fmt, files, opts), "--no-plot", "--out", str(out)])
    cap = capsys.readouterr()
    assert rc == 0, cap.err
    assert "tape " in cap.out and " kept; " in cap.out  # the validation summary is printed
    v = json.loads((out / "calibration.json").read_text())["tape_validation"]
    every = {**v["dropped"], **v["repaired"], **v["kept"]}
    for rule, n in case.counts.items():
        assert sum(every.get(r, 0) for r in rule.split("+")) == n
    assert math.isfinite(v["tick"])


@pytest.mark.parametrize("case", [c for c in REPAIRED if c.id in CLI_REPAIRED], ids=list(CLI_REPAIRED))
def test_repaired_by_the_command(case: Case, slices, tmp_path, capsys):
    _run_repaired(case, slices, tmp_path, capsys)


@pytest.mark.slow
@pytest.mark.parametrize(
    "case",
    [c for c in REPAIRED if c.id not in CLI_REPAIRED],
    ids=[c.id for c in REPAIRED if c.id not in CLI_REPAIRED],
)
def test_every_repaired_case_by_the_command(case: Case, slices, tmp_path, capsys):
    _run_repaired(case, slices, tmp_path, capsys)


def test_the_corpus_covers_every_rule():
    from mmenv.data.tape_validation import RULES

    exercised = {c.rule for c in CASES}
    untested = (
        set(RULES) - exercised - {"prices_snapped", "trades_off_grid", "sizes_off_lot", "trades_outside_book"}
    )
    assert not untested, untested
