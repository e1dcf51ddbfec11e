"""Write the report: one self-contained HTML page and a JSON summary, from ``<store>.analysis/``.

    pathdep report runs/demo.zarr -o report.html

The page embeds Plotly's JavaScript from the installed package and a
Content-Security-Policy that forbids every network request, so it opens
offline and never phones home. Sections follow the path-dependence questions
(see ``sections.py``).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from markupsafe import Markup

from pathdep.analysis import power
from pathdep.analysis.result import AnalysisResult
from pathdep.atomic import write_json, write_text
from pathdep.errors import PathdepError
from pathdep.report import render
from pathdep.report.companions import companions as linked
from pathdep.report.sections import Section, arrange, question_labels
from pathdep.report.store_info import StoreInfo, read_store_info
from pathdep.version import __version__

logger = logging.getLogger(__name__)

ANALYSIS_SUFFIX = ".analysis"


def analysis_dir(store: Path) -> Path:
    """Where ``analyze`` writes the results of ``store``: ``<store>.analysis/``."""
    return store.with_name(store.name + ANALYSIS_SUFFIX)


def default_out(store: Path) -> Path:
    """The report's default path: ``<store>.report.html`` beside the store."""
    return store.with_name(store.name + ".report.html")


def summary_path(out: Path) -> Path:
    """The JSON summary beside the page: ``report.html`` -> ``summary.json``.

    Any other page name keeps its stem (``x.html`` -> ``x.summary.json``), so
    two reports can share a folder.
    """
    if out.name == "report.html":
        return out.with_name("summary.json")
    stem = out.name[:-5] if out.name.lower().endswith(".html") else out.name
    return out.with_name(stem + ".summary.json")


def load_results(folder: Path) -> tuple[list[AnalysisResult], list[dict[str, str]]]:
    """Every readable analysis in ``folder``, and the ones that could not be read (and why)."""
    if not folder.is_dir():
        raise PathdepError(f"no analysis results at {folder}: run `pathdep analyze` on the store "
                           "first (the report reads <store>.analysis/<name>/summary.json)")
    results, skipped = [], []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if not (sub / "summary.json").is_file():
            continue
        try:
            results.append(AnalysisResult.load(sub))
        except Exception as e:  # one broken result must not hide the others
            logger.warning("skipping analysis %s: %s", sub.name, e)
            skipped.append({"name": sub.name, "reason": f"{type(e).__name__}: {e}",
                            "kind": "unreadable"})
    if not results:
        raise PathdepError(f"no readable analysis results in {folder}: run `pathdep analyze` "
                           "on the store, then `pathdep report` again")
    return results, skipped


def not_run(folder: Path, have: set[str]) -> list[dict[str, str]]:
    """The analyses ``analyze`` skipped, with its reasons (``<folder>/summary.json``)."""
    try:
        summary = json.loads((folder / "summary.json").read_text())
    except (OSError, ValueError):
        return []
    return [{"name": n, "reason": str(why), "kind": "not run"}
            for n, why in sorted((summary.get("skipped") or {}).items()) if n not in have]


def _figures(results: list[AnalysisResult], info: StoreInfo):
    """Figure dicts per result, the runs the selector offers, and the payloads to embed."""
    dicts = {r.name: [(k, render.figure_dict(f)) for k, f in r.figures.items()] for r in results}
    runs = info.runs or render.runs_in_figures([d for fs in dicts.values() for _, d in fs])
    payloads, index = [], {}
    for name, figs in dicts.items():
        index[name] = []
        for key, d in figs:
            payload = render.figure_payload(d, runs)
            index[name].append({"index": len(payloads), "key": key, "height": payload["height"]})
            payloads.append({"figure": payload["figure"], "runs": payload["runs"]})
    return runs, payloads, index


def calibration_size(r: AnalysisResult, n_runs: int) -> int:
    """What the verdict's calibration counts as runs: the analysis's own count where its
    simulation says (Simulation.size: e.g. branches per step, RL seeds, runs estimated), else
    the store's ``n_runs`` measured runs."""
    from pathdep.analyze.registry import ANALYSES  # the registry imports every analysis

    sim = next((a.simulation for a in ANALYSES if a.name == r.name), None)
    if sim is None or sim.size is None:
        return n_runs
    try:
        return int(sim.size(r))
    except (KeyError, ValueError, TypeError, IndexError):
        return n_runs


def calibration_note(name: str, n_runs: int, result: AnalysisResult | None = None
                     ) -> dict[str, Any] | None:
    """The verdict's false-positive rate and power at this suite's size (analysis/power.py);
    with ``result``, at the count its simulation names (:func:`calibration_size`)."""
    if result is not None:
        n_runs = calibration_size(result, n_runs)
    row = power.at(name, n_runs)
    if row is None:
        return None
    return {"n_runs": row.n_runs, "false_positive": row.false_positive, "power": row.power,
            "reps": row.reps, "effect": row.effect,
            "text": (f"Calibration at {row.n_runs} runs ({row.reps} simulated suites each, "
                     f"docs/calibration.md): this verdict claims an effect in "
                     f"{row.false_positive:.0%} of suites without one, and finds {row.effect} "
                     f"in {row.power:.0%}.")}


def _result_view(r: AnalysisResult, figures: list[dict], folder: Path,
                 n_runs: int) -> dict[str, Any]:
    tables = [{"key": k, "title": k.replace("_", " "), "csv": str(folder / r.name / f"{k}.csv"),
               **render.table_view(df)} for k, df in r.tables.items()]
    label = ("question " if question_labels(r.question) else "") + (r.question or "")
    return {"name": r.name, "anchor": f"a-{r.name}", "question": r.question, "question_label": label,
            "verdict": r.verdict, "numbers": render.summary_numbers(r.summary),
            "calibration": calibration_note(r.name, n_runs, r), "figures": figures, "tables": tables}


def _runs_table(info: StoreInfo, runs: list[str]) -> dict | None:
    if not info.factors:
        return None
    df = pd.DataFrame([{"run": r, **info.factors.get(r, {})} for r in runs])
    return render.table_view(df, max_rows=500)


def _summary(sections: list[Section], head: dict, skipped: list[dict]) -> dict[str, Any]:
    """Every verdict and its numbers, as strict JSON (NaN -> null) for scripts."""
    n = len(head["measured_runs"])
    return render.finite({**head, "skipped": skipped,
                          "sections": [{"key": s.key, "title": s.title,
                                        "questions": list(s.questions),
                                        "analyses": [r.summary_json()
                                                     | {"calibration": calibration_note(r.name, n, r)}
                                                     for r in s.results]}
                                       for s in sections]})


def _context(store: Path, title: str | None) -> dict[str, Any]:
    """Everything the template needs, plus the JSON summary."""
    folder = analysis_dir(store)
    results, skipped = load_results(folder)
    skipped += not_run(folder, {r.name for r in results})
    info = read_store_info(store)
    runs, payloads, fig_index = _figures(results, info)
    sections = arrange(results)
    head = {"title": title or f"Path dependence of {info.suite or store.name}",
            "suite": info.suite, "store": str(store), "analysis_dir": str(folder),
            "generated": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "pathdep_version": __version__, "runs": runs,
            "measured_runs": [r for r in runs if r in info.measured] if info.runs else runs,
            "failed_checkpoints": info.failures, "gaps": info.gaps(),
            "evaluation_set": info.eval_description(), "architectures": info.architectures,
            "factors": {r: info.factors.get(r, {}) for r in runs} if info.factors else {}}
    views = [{"key": s.key, "title": s.title, "questions": ", ".join(s.questions),
              "results": [_result_view(r, fig_index[r.name], folder, len(head["measured_runs"]))
                          for r in s.results]}
             for s in sections]
    return {**head, "sections": views, "skipped": skipped, "n_figures": len(payloads),
            "varying": info.varying_factors(),
            "run_colors": [(r, render.PALETTE[i % len(render.PALETTE)])
                           for i, r in enumerate(runs)], "runs_table": _runs_table(info, runs),
            "figures_json": Markup(render.safe_json(payloads)),
            "summary": _summary(sections, head, skipped)}


def _plotly_js() -> Markup:
    from plotly.offline import get_plotlyjs

    js = get_plotlyjs()
    if "</script" in js.lower():  # would end the <script> element early
        js = js.replace("</script", "<\\/script").replace("</SCRIPT", "<\\/SCRIPT")
    return Markup(js)


def report(store: Path, out: Path | None = None, *, title: str | None = None,
           companions: Sequence[str | Path] = ()) -> Path:
    """Write the HTML report of ``store`` (default ``<store>.report.html``) and its JSON summary.

    Reads the analysis results in ``<store>.analysis/`` (and, if present, the
    store's suite name, runs and factors). ``companions``: other suites' report
    pages to link, quoting their verdicts (report/companions.py). Returns the
    path of the HTML page; the summary is ``summary_path(page)``.
    """
    store = Path(store)
    if store.name.endswith(ANALYSIS_SUFFIX) and store.is_dir():  # given the results folder
        store = store.with_name(store.name[: -len(ANALYSIS_SUFFIX)])
    out = default_out(store) if out is None else Path(out)
    if out.is_dir():
        out = out / default_out(store).name
    ctx = _context(store, title)
    ctx["companions"] = ctx["summary"]["companions"] = linked(companions, out)
    page = render.environment().get_template("report.html.j2").render(
        **ctx, nonce=secrets.token_urlsafe(18), plotly_js=_plotly_js(),
        summary_file=summary_path(out).name)
    write_text(out, page)
    write_json(summary_path(out), ctx["summary"])
    for path in (out, summary_path(out)):  # temp files are private (0600); a report is for sharing
        path.chmod(0o644)
    logger.info("wrote %s (%d sections, %d plots) and %s", out, len(ctx["sections"]),
                ctx["n_figures"], summary_path(out).name)
    return out
