"""The corpus of corrupted tapes in tardis.dev, Databento and hftbacktest files
(:mod:`tests.data.tape_corpus_formats`): every case is refused in one line that names the file and says what
to do, or repaired with its repairs reported and A, k and sigma close to the clean slice's in the same format
(tolerances as in :mod:`tests.data.test_tape_corpus`: standard errors of the clean fit). The library runs
every case; the command (``mmenv calibrate --tardis`` / ``--databento``) runs every refused case of those
formats (hftbacktest's event files are read by the library: no command flag reads them).
"""

from __future__ import annotations

import pytest

from mmenv.cli import main
from tests.conftest import SHARED_DATA
from tests.data import tape_corpus as tc
from tests.data.tape_corpus_formats import CASES, CONVERT, Case, clean_files
from tests.data.test_tape_corpus import fit_tape, found

pytestmark = [
    pytest.mark.skipif(
        SHARED_DATA is None, reason="the shared samples are absent (set MMENV_SHARED_DATA to the folder)"
    ),
]
pytest.importorskip(
    "databento", reason="the databento extra is not installed (pip install -e '.[databento]')"
)

REFUSED = [c for c in CASES if c.refused is not None]
REPAIRED = [c for c in CASES if c.refused is None]
CLI_FLAGS = {"tardis": "--tardis", "databento": "--databento"}


@pytest.fixture(scope="module")
def slices(tmp_path_factory):
    root = tmp_path_factory.mktemp("slices")
    tc.write_slices(root, SHARED_DATA)
    return root


@pytest.fixture(scope="module")
def clean_fits(slices, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("clean")
    return {fmt: fit_tape(*clean_files(slices, fmt, out / fmt)) for fmt in CONVERT}


def _write(case: Case, slices, out):
    return case.write(tc.clean_files(slices, CONVERT[case.key][0]), out)


@pytest.mark.parametrize("case", REFUSED, ids=[c.id for c in REFUSED])
def test_refused_by_the_loader_naming_the_file(case: Case, slices, tmp_path):
    fmt, files, opts = _write(case, slices, tmp_path / "in")
    with pytest.raises(ValueError) as exc:
        fit_tape(fmt, files, opts)
    msg = str(exc.value)
    assert case.refused in msg, msg
    assert any(f.name in msg for f in files), msg  # names the file
    assert "; " in msg and "\n" not in msg, msg  # what; what to do, in one line


@pytest.mark.parametrize(
    "case", [c for c in REFUSED if c.key in CLI_FLAGS], ids=[c.id for c in REFUSED if c.key in CLI_FLAGS]
)
def test_refused_by_the_command_in_one_line(case: Case, slices, tmp_path, capsys):
    fmt, files, _ = _write(case, slices, tmp_path / "in")
    out = tmp_path / "out"
    rc = main(["calibrate", CLI_FLAGS[fmt], *map(str, files), "--no-plot", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert err.count("\n") == 1 and err.startswith("mmenv calibrate: error: "), err
    assert case.refused in err and any(f.name in err for f in files), err
    assert "Traceback" not in err and not out.exists()


@pytest.mark.parametrize("case", REPAIRED, ids=[c.id for c in REPAIRED])
def test_repaired_close_to_the_clean_slice(case: Case, slices, clean_fits, tmp_path):
    clean_tape, clean = clean_fits[case.key]
    fmt, files, opts = _write(case, slices, tmp_path / "in")
    tape, fit = fit_tape(fmt, files, opts)
    for rule, n in case.counts.items():
        assert found(tape, rule) == n, (rule, tape.validation.summary())
    assert tape.tick == clean_tape.tick and tape.lot == clean_tape.lot
    word = {"tardis": " line ", "databento": " record ", "hftbacktest": " row "}[fmt]
    for where in tape.validation.first.values():  # the first row of each rule: its file and line/record/row
        assert where.split(" ")[0] in {f.name for f in files} and word in where, where
    for name, se in (("A", clean.intensity.A_se), ("k", clean.intensity.k_se), ("sigma", clean.sigma_se)):
        got, want = getattr(fit, name), getattr(clean, name)
        assert abs(got - want) <= case.tol * se, (name, got, want, se)


def test_the_formats_corpus_covers_the_loader_rules():
    """Each format meets bad prints, off-grid prices, another instrument or unit, a clock jump, a wrong time
    unit or order, an empty and a truncated file."""
    for fmt in CONVERT:
        rules = {c.rule for c in CASES if c.key == fmt}
        assert {"trades_bad_print", "quotes_off_grid", "gaps", "sorted", "files", "truncated"} <= rules, fmt
        assert "price_overlap" in rules, fmt
