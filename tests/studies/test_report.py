"""The study report: one quick run checked for structure, numbers, placeholders and a self-contained HTML;
the README's key results against the committed report's metrics; the report's building blocks."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from mmenv.cli import main as cli_main
from mmenv.studies.compare import inventory_variance_reduction
from mmenv.studies.report.contents import SECTIONS
from mmenv.studies.report.document import Section, compute_order
from mmenv.studies.report.readme import BEGIN, END, key_results_markdown, readme_block, update_readme
from mmenv.studies.report.summary import pct, summary_markdown
from mmenv.viz.html import github_slug, markdown_to_html

ROOT = Path(__file__).resolve().parents[2]
ROMAN = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X")
#: Figures each section must show (at least these).
FIGURES = {
    "I": {"dealer_dilemma.png"},
    "II": {"data_bars.png"},
    "III": {"calibration.png"},
    "IV": {"sensitivity_frontier.png"},
    "V": {"as2008_pnl.png"},
    "VI": {"backtest_equity.png"},
    "VII": {"attribution.png"},
    "VIII": {"robustness.png"},
    "IX": {"compare_risk_return.png", "compare_pnl_hist.png"},
}


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    rc = cli_main(["report", "--quick", "--paths", "40", "--out", str(out)])
    md = (out / "report.md").read_text(encoding="utf-8")
    metrics = json.loads((out / "metrics.json").read_text())
    assert rc == 0, metrics.get("errors")
    return out, md, metrics


def _section_text(md: str, number: str) -> str:
    i = md.index(f"\n## {number}. ")
    j = md.find("\n## ", i + 1)
    return md[i : j if j > 0 else len(md)]


def test_every_section_present_in_order_with_its_figures(quick):
    out, md, metrics = quick
    pos = [md.index(f"\n## {n}. ") for n in ROMAN]
    assert pos == sorted(pos)
    assert md.index("## Executive summary") < pos[0]
    listed = {s["number"]: s for s in metrics["sections"]}
    assert tuple(listed) == ROMAN
    for n in ROMAN:
        text = _section_text(md, n)
        assert listed[n]["anchor"] == github_slug(text.split("\n")[1][3:])
        assert FIGURES.get(n, set()) <= set(listed[n]["figures"]), n
        for f in listed[n]["figures"]:
            assert (out / f).stat().st_size > 5000, f
            assert f"]({f})" in text, f"{f} not shown in section {n}"
            cap = re.search(rf"\]\({re.escape(f)}\)\n\n\*Figure: (.+?)\*", text, re.S)
            assert cap and len(cap.group(1)) > 60, f"{f} has no caption saying what to read"
    assert "$$r(s, q, t) = s - q" in md
    for sym in ("$s$", "$q$", "$\\sigma$", "$\\gamma$", "$k$", "$A$", "$T$", "$dt$", "$r$"):
        assert f"| {sym} |" in _section_text(md, "I"), sym


def test_summary_numbers_are_the_metrics(quick):
    _, md, m = quick
    summ = md.split("## Executive summary\n\n", 1)[1].split("\n## ", 1)[0]
    assert summ.strip() == summary_markdown(m).strip()  # a function of metrics.json alone
    bullets = [b for b in summ.splitlines() if b.startswith("- ")]
    assert 5 <= len(bullets) <= 8
    for b in bullets:
        anchor = re.search(r"\(#([a-z0-9-]+)\)\)$", b)
        assert anchor and anchor.group(1) in {s["anchor"] for s in m["sections"]}
    model = m["compare"]["metrics"]["model"]
    v = model["_summary"]["inventory_variance"]
    expect = [pct(v[d]["reduction"]) for d in ("pooled", "terminal", "within")]
    expect += [pct(v[d]["se"]) for d in ("pooled", "terminal", "within")]
    for s in ("as", "glft", "optimal", "naive"):
        expect += [
            f"{model[s]['mean_pnl']:.2f} ± {model[s]['mean_pnl_se']:.2f}",
            f"Sharpe {model[s]['sharpe']:.2f}",
        ]
    c = m["calibration"]
    expect += [f"A = {c['A']:.4g} ± {c['A_se']:.2g}", f"k = {c['k']:.4g} ± {c['k_se']:.2g}"]
    rb = m["robustness"]
    worst = min((s for s in rb if s != "base"), key=lambda s: rb[s]["as"]["d_mean_pnl"])
    expect += [f"**{worst}**", f"{rb[worst]['as']['d_mean_pnl']:+.2f}"]
    lo, hi = m["sensitivity"][0], m["sensitivity"][-1]
    expect += [f"{lo['fill_rate']:.3f}", f"{hi['fill_rate']:.3f}", f"{hi['inventory_std']:.2f}"]
    for e in expect:
        assert e in summ, e
    assert "pooled over all paths and times (the headline" in summ


def test_no_placeholder_left(quick):
    out, md, _ = quick
    html = (out / "report.html").read_text(encoding="utf-8")
    no_math_md = re.sub(r"\$\$.+?\$\$|\$[^$\n]+\$", " ", md, flags=re.S)
    no_math_html = re.sub(r"<math.*?</math>", " ", html, flags=re.S)
    for text in (no_math_md, re.sub(r"<[^>]+>", " ", no_math_html)):
        text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", text)
        for pat in (r"\bn/a\b", r"\btodo\b", r"\bissue\b", r"\bnan\b", r"\bNone\b", r"\{[a-z_]+\}"):
            hit = re.search(pat, text, flags=re.I if pat != r"\bNone\b" else 0)
            assert hit is None, (
                f"placeholder {hit.group(0)!r} in {text[max(hit.start() - 80, 0) : hit.end() + 80]!r}"
            )
    assert "failed in this run" not in md


def test_html_is_self_contained_with_rendered_math(quick):
    out, md, m = quick
    html = (out / "report.html").read_text(encoding="utf-8")
    assert not re.search(r"(src|href)=['\"]https?:", html)
    assert "<script" not in html and "mathjax" not in html.lower()
    assert html.count("<math") >= md.count("$$") // 2 + 10
    assert "$$" not in html and "\\gamma" not in re.sub(r"<annotation.*?</annotation>", "", html, flags=re.S)
    n_fig = sum(len(s["figures"]) for s in m["sections"])
    assert html.count('src="data:image/png;base64,') == n_fig
    for s in m["sections"]:
        assert f'id="{s["anchor"]}"' in html


def test_readme_key_results_are_generated_from_the_committed_report():
    metrics = json.loads((ROOT / "docs/report/metrics.json").read_text())
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert BEGIN in readme and END in readme
    assert readme_block(readme) == key_results_markdown(metrics, "docs/report"), (
        "README key results differ from docs/report/metrics.json: run "
        "`mmenv report --readme README.md --from-metrics docs/report/metrics.json`"
    )
    for f in re.findall(r"\]\((docs/report/[^)#]+)", readme_block(readme)):
        assert (ROOT / f).exists(), f


def test_update_readme_rewrites_only_the_block(tmp_path, quick):
    out, _, m = quick
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\nintro\n\n{BEGIN}\nold text\n{END}\n\nafter\n")
    update_readme(readme, m, out)
    text = readme.read_text()
    assert text.startswith("# x\n\nintro\n\n") and text.endswith(f"{END}\n\nafter\n")
    rel = Path(__import__("os").path.relpath(out, tmp_path)).as_posix()
    assert readme_block(text) == key_results_markdown(m, rel)
    assert cli_main(["report", "--readme", str(readme), "--from-metrics", str(out / "metrics.json")]) == 0
    assert readme.read_text() == text
    (tmp_path / "bad.md").write_text("no markers\n")
    with pytest.raises(ValueError, match=r"bad\.md"):
        update_readme(tmp_path / "bad.md", m, out)


def test_inventory_variance_reduction_definitions():
    rng = np.random.default_rng(1)
    a = rng.integers(-3, 4, size=(300, 51)).astype(float)
    b = 3.0 * rng.integers(-3, 4, size=(300, 51)).astype(float)
    r = inventory_variance_reduction(a, b, n_boot=200, seed=0)
    assert r["pooled"]["as"] == pytest.approx(a.var())
    assert r["terminal"]["naive"] == pytest.approx(b[:, -1].var(ddof=1))
    assert r["within"]["as"] == pytest.approx(a.var(axis=1).mean())
    for d in r.values():
        assert d["reduction"] == pytest.approx(1 - d["as"] / d["naive"])
        assert 0 < d["se"] < 0.2
    assert inventory_variance_reduction(a, b, n_boot=200, seed=0) == r  # fixed seed: the same numbers
    with pytest.raises(ValueError, match="shape"):
        inventory_variance_reduction(a, b[:, :10])


def test_markdown_to_html_math_code_and_dollars(tmp_path):
    md = (
        "# T\n\nCosts $5 and $6 here, `$x$` stays code, math $\\gamma\\sigma^2$ renders.\n\n"
        "$$r = s - q\\gamma$$\n\n```text\n$not math$\n```\n\n| a | $k$ |\n|---|---|\n| 1 | 2 |\n"
    )
    html = markdown_to_html(md, tmp_path)
    assert "Costs $5 and $6 here" in html
    assert "<code>$x$</code>" in html and "$not math$" in html
    assert html.count("<math") == 3 and 'display="block"' in html
    assert "<table>" in html and 'id="t"' in html
    assert github_slug("VIII. The model's weaknesses, measured") == "viii-the-models-weaknesses-measured"


def test_sections_are_computed_after_what_they_read():
    order = [s.number for s in compute_order(SECTIONS)]
    for s in SECTIONS:
        for n in s.needs:
            assert order.index(n) < order.index(s.number)
    loop = (Section("A", "a", (), ("B",)), Section("B", "b", (), ("A",)))
    with pytest.raises(ValueError, match="cycle"):
        compute_order(loop)
    with pytest.raises(ValueError, match="'Z'"):
        compute_order((Section("A", "a", (), ("Z",)),))


def test_label_points_keeps_labels_apart_and_inside(tmp_path):
    from mmenv.viz.style import label_points, pyplot, save_figure

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4, 3))
    xs, ys = [1.0, 1.02, 1.04, 3.0, 3.0], [1.0, 1.01, 0.99, 2.0, 2.02]
    ax.plot(xs, ys, "o")
    ax.set_xlim(0.9, 3.05)
    texts = label_points(ax, xs, ys, ["glft", "optimal", "as", "symmetric", "naive"], fontsize=8)
    r = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(r) for t in texts]
    inside = ax.get_window_extent(r)
    for i, b in enumerate(boxes):
        assert (
            b.x0 >= inside.x0 - 1
            and b.x1 <= inside.x1 + 1
            and b.y0 >= inside.y0 - 1
            and b.y1 <= inside.y1 + 1
        )
        for c in boxes[i + 1 :]:
            assert not b.overlaps(c)
    save_figure(fig, tmp_path / "l.png")


def test_real_tape_sentences_read_the_intensity_metrics():
    from mmenv.studies.report.summary import conclusions_markdown, summary_items

    ex = {"params": {"A": 2.5, "k": 60.0}, "se": {"A": 0.06, "k": 0.5}, "gof_pvalue": 0.0}
    row = {"label": "one tick past the touch", "ratio_exp_to_empirical": 4.06}
    m = {
        "calibration": {"A": 0.125, "A_se": 0.001, "k": 50.0, "k_se": 0.3, "truth": {"A": 0.125, "k": 50.0}},
        "intensity_models": {
            "tape_x": {
                "models": {"exponential": ex},
                "selected_model": "two_part",
                "exponential_misfit": [{"label": "the typical touch", "ratio_exp_to_empirical": 1.1}, row],
                "risk_neutral_depth": {"exponential": {"depth": 0.65}, "two_part": {"depth": 3.99}},
            }
        },
    }
    real = [t for n, t in summary_items(m) if "real tapes" in t]
    assert len(real) == 1 and "tape_x: χ² p = 0, selected law two-part" in real[0]
    assert "one tick past the touch the exponential's rate is 4.1x the observed one" in real[0]
    x = conclusions_markdown(m)
    assert "**On real tapes the exponential law does not hold.**" in x
    assert "A = 2.5 ± 0.06, k = 60 ± 0.5" in x and "0.65 under the exponential against 3.99" in x
    ex["gof_pvalue"] = 0.4
    assert "does not hold" not in conclusions_markdown(m)
    assert "Real tapes were not part of this run" in conclusions_markdown({**m, "intensity_models": {}})


def test_replay_sentences_read_the_real_data_metrics():
    from mmenv.studies.report.summary import conclusions_markdown, summary_items

    def run(pnl, spread, adv):
        return {"total_pnl": pnl, "spread_pnl": spread, "adverse_selection_pnl": adv, "n_fills": 100}

    m = {
        "real_data": {
            "tape A": {"strategies": {"as": run(-50.0, 200.0, -250.0), "naive": run(10.0, 90.0, -80.0)}},
            "tape B": {"strategies": {"as": run(-5.0, 1.0, -6.0)}},
        }
    }
    (text,) = [t for n, t in summary_items(m) if n == "VI"]
    assert "tape A: P&L -50 from 200 of spread and a 1 s markout of -250 over 100 fills" in text
    assert "1 of 3 strategy runs make money" in text
    x = conclusions_markdown(m)
    assert "AS's fills on tape A earn 200 of spread" in x and "exceeds the spread they capture" in x
    m["real_data"]["tape B"]["strategies"]["as"]["adverse_selection_pnl"] = 0.5
    assert "exceeds the spread they capture" not in conclusions_markdown(m)


def test_committed_report_summary_has_five_to_eight_sentences():
    """The committed full run (with PPO, the RL study and both real tapes) keeps the summary to 5-8 bullets."""
    from mmenv.studies.report.summary import summary_items

    path = Path(__file__).resolve().parents[2] / "docs" / "report" / "metrics.json"
    items = summary_items(json.loads(path.read_text()))
    assert 5 <= len(items) <= 8, [t[:60] for _, t in items]
    assert not any("could not be computed" in t for _, t in items)
