"""Which analysis goes in which section of the report, and in what order.

The sections follow the path-dependence questions (A-H). An analysis is placed
by its name (``SectionSpec.names``, then ``keywords`` in the name), then by the
first letter of its question label ("A", "C/D", "A/E (convergence)"); anything
else gets a section of its own at the end, so new analyses (interventions,
prompt dependence, ...) appear without report changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pathdep.analysis.result import AnalysisResult


@dataclass(frozen=True)
class SectionSpec:
    """A known section: anchor, heading, question letters, and the analysis names it holds.

    ``names`` are matched exactly and give the order inside the section;
    ``keywords`` catch variants by substring ("loss_pca" -> pca).
    """

    key: str
    title: str
    questions: tuple[str, ...]
    names: tuple[str, ...]
    keywords: tuple[str, ...] = ()


SECTIONS: tuple[SectionSpec, ...] = (
    SectionSpec("differences", "How different are the runs?", ("A", "B"),
                ("agreement", "convergence", "variance", "factors", "general_factor"),
                ("agreement", "convergence", "variance")),
    SectionSpec("clusters", "Distinct clusters, basins and their stability", ("C", "D"),
                ("clusters", "basins"), ("cluster", "basin")),
    SectionSpec("predictiveness", "Does mid-training predict the end?", ("E",),
                ("predictiveness",), ("predict",)),
    SectionSpec("circuits", "Circuits and phase changes", ("G",),
                ("circuits", "phase_changes", "induction", "icl"),
                ("circuit", "phase", "induction", "icl")),
    SectionSpec("interventions", "Interventions and instability", ("F",),
                ("instability", "interventions"), ("interven", "instab", "branch")),
    SectionSpec("rl", "RL fine-tuning: path dependence after pre-training", (),
                ("rl_paths",), ("rl_",)),
    SectionSpec("learning-curves", "Learning-curve shapes", (),
                ("learning_curves",), ("curve",)),
    SectionSpec("behaviours", "Behaviours over training, per run", (),
                ("behaviours", "behaviors", "fact_timing"), ("behaviour", "behavior", "probe",
                                                               "fact")),
    SectionSpec("pca", "PCA trajectories", (), ("pca", "loss_pca"), ("pca",)),
    SectionSpec("outliers", "Outlier tokens in context", (), ("outliers",), ("outlier",)),
)


@dataclass
class Section:
    """A section as rendered: heading, anchor, question labels and its analyses."""

    key: str
    title: str
    questions: tuple[str, ...]
    results: list[AnalysisResult] = field(default_factory=list)


_LABELS = re.compile(r"^\s*([A-Z](?:\s*[/,&+]\s*[A-Z])*)(?![A-Za-z])")


def question_labels(question: str) -> tuple[str, ...]:
    """The question letters a label starts with: "C/D" -> ("C", "D"); "A (agreement)" -> ("A",).

    A label that does not start with letters ("shapes") has none.
    """
    m = _LABELS.match(question or "")
    return tuple(re.findall(r"[A-Z]", m.group(1))) if m else ()


def _spec_for(result: AnalysisResult) -> SectionSpec | None:
    """By exact name, then by a keyword in the name, then by the first question letter."""
    name = result.name.lower()
    for test in (lambda sp: name in sp.names, lambda sp: any(k in name for k in sp.keywords)):
        spec = next((sp for sp in SECTIONS if test(sp)), None)
        if spec is not None:
            return spec
    for letter in question_labels(result.question):
        spec = next((sp for sp in SECTIONS if letter in sp.questions), None)
        if spec is not None:
            return spec
    return None


def _rank(spec: SectionSpec, result: AnalysisResult) -> tuple[int, str]:
    name = result.name.lower()
    return (spec.names.index(name) if name in spec.names else len(spec.names), name)


def _title_of(result: AnalysisResult) -> str:
    return result.name.replace("_", " ").strip().capitalize() or "Analysis"


def arrange(results: list[AnalysisResult]) -> list[Section]:
    """Group results into sections in the report's order; unknown analyses go last, by name."""
    known: dict[str, list[AnalysisResult]] = {}
    others: list[AnalysisResult] = []
    for r in results:
        spec = _spec_for(r)
        if spec is None:
            others.append(r)
        else:
            known.setdefault(spec.key, []).append(r)
    sections = []
    for spec in SECTIONS:
        if spec.key in known:
            members = sorted(known[spec.key], key=lambda r, s=spec: _rank(s, r))
            sections.append(Section(spec.key, spec.title, spec.questions, members))
    used = {s.key for s in sections}
    for r in sorted(others, key=lambda r: r.name.lower()):
        key = "other-" + re.sub(r"[^a-z0-9]+", "-", r.name.lower()).strip("-")
        while key in used:
            key += "-x"
        used.add(key)
        sections.append(Section(key, _title_of(r), question_labels(r.question), [r]))
    return sections
