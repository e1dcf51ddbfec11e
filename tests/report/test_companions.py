"""A companion suite's report, linked from another report with its verdicts quoted (the demo)."""

from __future__ import annotations

import json

import pytest
from report_fakes import make_store

from pathdep.errors import PathdepError
from pathdep.report import report, summary_path


def test_the_companion_is_linked_relative_and_its_verdicts_quoted(tmp_path):
    other = make_store(tmp_path / "main" / "induction")
    other_page = report(other, other.parent / "report.html", title="The <i>other</i> suite")
    secs = json.loads(summary_path(other_page).read_text())["sections"]
    secs = [s for s in secs if s["key"] == "circuits"] + [s for s in secs if s["key"] != "circuits"]
    other_verdicts = [a["verdict"] for s in secs for a in s["analyses"]]  # circuits first
    main = make_store(tmp_path / "main")
    page = report(main, main.parent / "report.html", companions=[other_page])
    html = page.read_text()
    assert '<a href="induction/report.html">The &lt;i&gt;other&lt;/i&gt; suite</a>' in html
    summary = json.loads(summary_path(page).read_text())
    (c,) = summary["companions"]
    assert c["href"] == "induction/report.html" and c["title"] == "The <i>other</i> suite"
    assert [v["verdict"] for v in c["verdicts"]] == other_verdicts and other_verdicts
    # the circuits section points to it too
    circuits = html[html.index('<section id="circuits">'):]
    assert 'companion suite <a href="induction/report.html">' in circuits[:2000]


def test_no_companion_no_box(tmp_path):
    page = report(make_store(tmp_path), tmp_path / "report.html")
    assert 'class="companion"' not in page.read_text()
    assert json.loads(summary_path(page).read_text())["companions"] == []


def test_a_companion_without_its_summary_names_the_fix(tmp_path):
    main = make_store(tmp_path)
    with pytest.raises(PathdepError, match="pathdep report"):
        report(main, tmp_path / "report.html", companions=[tmp_path / "missing" / "report.html"])
    assert not (tmp_path / "report.html").exists()


def test_the_command_line_takes_companions(tmp_path):
    import typer
    from typer.testing import CliRunner

    from pathdep.report.cli import report_cmd

    other = make_store(tmp_path / "other")
    other_page = report(other, other.parent / "report.html")
    main = make_store(tmp_path / "main")
    app = typer.Typer()
    app.command()(report_cmd)
    res = CliRunner().invoke(app, [str(main), "-o", str(tmp_path / "main" / "report.html"),
                                   "--companion", str(other_page)])
    assert res.exit_code == 0, res.output
    (c,) = json.loads((tmp_path / "main" / "summary.json").read_text())["companions"]
    assert c["href"] == "../other/report.html"
