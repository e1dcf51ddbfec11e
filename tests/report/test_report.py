"""The report page and its JSON summary, read as files (the browser test renders them)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import typer
from plotly.offline import get_plotlyjs
from report_fakes import EVIL, EVIL_RUN, RUNS, fake_results, save_results
from typer.testing import CliRunner

from pathdep.analysis.result import AnalysisResult
from pathdep.errors import PathdepError
from pathdep.report import report, summary_path
from pathdep.report.cli import report_cmd
from pathdep.report.render import figure_payload, fmt, safe_json, table_view
from pathdep.report.sections import arrange

ORDER = ["differences", "clusters", "predictiveness", "circuits", "interventions",
         "learning-curves", "pca"]  # "outliers" (not registered, question A) joins differences


def _page(path: Path) -> str:
    """The HTML without the one embedded plotly.js bundle."""
    html = path.read_text()
    assert html.count(get_plotlyjs()) == 1
    return html.replace(get_plotlyjs(), "")


def _figures(page: str) -> list[dict]:
    m = re.search(r'<script type="application/json" id="pathdep-figures">(.*?)</script>', page, re.S)
    return json.loads(m.group(1))


def test_sections_follow_the_questions(built):
    page = _page(built[1])
    ids = re.findall(r'<section id="([^"]+)"', page)
    assert ids == ["glance", *ORDER]  # no behaviours section: that analysis is absent
    toc = re.findall(r'<li><a href="#([^"]+)"', page)
    assert toc == ["glance", *ORDER]


def test_each_section_opens_with_its_verdict_then_plots_then_tables(built):
    page = _page(built[1])
    art = page[page.index('<article id="a-agreement"'):page.index("</article>", page.index('id="a-agreement"'))]
    v, p, t = art.index('class="verdict"'), art.index('class="plot"'), art.index("<table")
    assert v < p < t
    assert "Final runs agree on 90% [88%, 91%] of tokens." in art
    assert "0.9 [0.88, 0.91]" in art  # the Interval, as a headline number


def test_arrange_places_by_registry_then_question_then_other():
    """Registered analyses go to the section their entry names, in registry order; others by
    their question's first letter, else to a section of their own."""
    def r(name, q):
        return AnalysisResult(name, q, "v")

    got = arrange([r("prompt_dependence", "prompts"), r("mystery", "C (how)"), r("variance", ""),
                   r("agreement", "A"), r("circuits", "G"), r("loss_pca", "A/H (PCA of losses)"),
                   r("drift", "A/E (drift)"), r("interventions", "F")])
    assert [(s.key, [x.name for x in s.results]) for s in got] == [
        ("differences", ["agreement", "drift"]), ("clusters", ["mystery"]),
        ("circuits", ["circuits"]), ("interventions", ["interventions"]), ("pca", ["loss_pca"]),
        ("prompts", ["prompt_dependence"]), ("other-variance", ["variance"])]


def test_page_is_self_contained(built):
    page = _page(built[1])
    assert not re.search(r"<script[^>]*\bsrc=", page, re.I)
    assert not re.search(r"<link\b", page, re.I)
    assert "@import" not in page and "url(" not in page
    assert not re.search(r"https?://", page)
    assert "Content-Security-Policy" in page and "default-src 'none'" in page


def test_data_strings_are_escaped(built):
    page = _page(built[1])
    assert "<script>alert" not in page and "alert(1)</script>" not in page
    # every script element is one of ours
    tags = re.findall(r"<script\b[^>]*>", page)
    assert len(tags) == 4
    assert all(t.startswith('<script nonce="') or 'id="pathdep-figures"' in t for t in tags)
    assert "<td>&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;</td>" in page
    assert 'data-run="&lt;script&gt;alert(&#34;run&#34;)&lt;/script&gt;"' in page
    # the figure JSON is escaped but lossless
    figs = _figures(page)
    outlier = next(f for f in figs if EVIL_RUN in f["runs"] and f["figure"]["data"][0].get("text"))
    assert outlier["figure"]["data"][0]["text"] == [EVIL, "the"]
    assert outlier["figure"]["layout"]["title"]["text"] == f"Outliers {EVIL}"


def test_figures_carry_their_runs_for_the_selector(built):
    figs = _figures(_page(built[1]))
    assert len(figs) == 8
    induction = next(f for f in figs if f["figure"]["layout"]["title"]["text"] == "Induction score")
    assert induction["runs"] == [*RUNS, None]  # the threshold line belongs to no run
    loss = next(f for f in figs if f["figure"]["layout"]["title"]["text"] == "Loss")
    assert loss["runs"] == [RUNS[0], RUNS[0], RUNS[1], RUNS[1], RUNS[2], RUNS[2], None]
    colors = {t["line"]["color"] for f in figs for t in f["figure"]["data"]
              if t.get("name") in ("seed0", "seed0 interval")}
    assert len(colors) == 1  # seed0 (and its interval band) has one colour on every plot


def test_summary_json_has_every_verdict_and_number(built):
    store, page = built
    s = json.loads(summary_path(page).read_text(), parse_constant=_strict)
    assert summary_path(page).name == "toy.zarr.report.summary.json"
    assert [x["key"] for x in s["sections"]] == ORDER
    assert s["runs"] == RUNS and s["suite"] == f"toy {EVIL}"
    assert s["factors"]["seed1"] == {"lr": "0.001", "seed": "1"}
    assert s["sections"][ORDER.index("predictiveness")]["analyses"][0]["summary"]["slope"] is None
    circuits = s["sections"][ORDER.index("circuits")]["analyses"][0]
    assert circuits["verdict"].startswith("Induction heads formed in 3 of 3 runs")
    assert circuits["summary"]["step"] == {"value": 410.0, "low": 380.0, "high": 450.0,
                                           "level": 0.95, "n_boot": 200}


def _strict(token: str):
    raise AssertionError(f"summary.json is not strict JSON: {token}")


def test_long_tables_are_capped_with_a_note(built):
    page = _page(built[1])
    assert "Showing the first 50 of 120 rows; the whole table is" in page
    assert "steps.csv" in page
    assert table_view(fake_results()[2].tables["steps"], max_rows=5)["rows"][-1] == ["4", "0.03361"]


def test_helpers_format_and_escape():
    assert fmt({"value": 0.123456, "low": 0.1, "high": 0.2}) == "0.1235 [0.1, 0.2]"
    assert fmt(float("nan")) == "" and fmt(None) == "" and fmt(3) == "3"
    text = safe_json({"a": EVIL + " & \u2028"})
    assert not set("<>&\u2028") & set(text)
    assert json.loads(text) == {"a": EVIL + " & \u2028"}


def test_missing_results_name_the_fix(tmp_path):
    with pytest.raises(PathdepError, match="pathdep analyze"):
        report(tmp_path / "none.zarr")


def test_broken_result_is_left_out_with_a_note(store):
    (store.with_name("toy.zarr.analysis") / "broken").mkdir()
    (store.with_name("toy.zarr.analysis") / "broken" / "summary.json").write_text("{not json")
    page = report(store, store.parent / "r.html")
    assert "Analysis <b>broken</b> could not be read" in page.read_text()
    assert json.loads(summary_path(page).read_text())["skipped"][0]["name"] == "broken"
    assert not list(store.parent.glob(".*.tmp-*"))  # atomic writes leave nothing behind


def test_without_a_store_runs_come_from_the_figures(tmp_path):
    store = tmp_path / "gone.zarr"
    save_results(store, fake_results()[:2])
    page = report(store.with_name("gone.zarr.analysis"), title="Only results")  # the folder works too
    assert page == tmp_path / "gone.zarr.report.html"
    runs = json.loads(summary_path(page).read_text())["runs"]
    assert set(RUNS) <= set(runs)


def test_cli_writes_the_page(built, tmp_path):
    app = typer.Typer()
    app.command()(report_cmd)
    out = tmp_path / "out"
    out.mkdir()
    res = CliRunner().invoke(app, [str(built[0]), "-o", str(out), "--title", "My <b>title</b>"])
    assert res.exit_code == 0, res.output
    page = out / "toy.zarr.report.html"
    assert "<title>My &lt;b&gt;title&lt;/b&gt;</title>" in page.read_text()
    assert str(page) in res.output


def test_package_is_callable(built, tmp_path):
    import pathdep.api  # noqa: F401  binds pathdep.report & co. (a package imported first) to the API
    from pathdep import report as rep

    assert rep(built[0], tmp_path / "x.html") == tmp_path / "x.html"


def test_several_series_per_run_keep_their_colours_but_follow_the_selector():
    d = {"data": [{"type": "scatter", "name": f"{r} PC{k}"} for k in (1, 2) for r in RUNS[:2]]}
    p = figure_payload(d, RUNS)
    assert p["runs"] == [RUNS[0], RUNS[1], RUNS[0], RUNS[1]]
    assert all("line" not in t for t in p["figure"]["data"])
