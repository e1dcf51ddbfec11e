"""Which analysis goes in which section of the report, and in what order.

The sections follow the path-dependence questions (A-H). An analysis is placed
by its name first (``SECTIONS[...].names``), then by its question label
("A", "C/D", ...); anything else gets a section of its own at the end, so new
analyses (interventions, prompt dependence, ...) appear without report changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pathdep.analyze.result import AnalysisResult


@dataclass(frozen=True)
class SectionSpec:
    """A known section: its anchor, heading, question labels and analysis names (in order)."""

    key: str
    title: str
    questions: tuple[str, ...]
    names: tuple[str, ...]


SECTIONS: tuple[SectionSpec, ...] = (
    SectionSpec("differences", "How different are the runs?", ("A", "B"),
                ("agreement", "convergence", "variance", "factors", "general_factor")),
    SectionSpec("clusters", "Distinct clusters and their stability", ("C", "D"),
                ("clusters", "cluster_stability")),
    SectionSpec("predictiveness", "Does mid-training predict the end?", ("E",),
                ("predictiveness", "prediction")),
    SectionSpec("circuits", "Circuits and phase changes", ("G",),
                ("circuits", "phase_changes", "induction", "icl")),
    SectionSpec("learning-curves", "Learning-curve shapes", (),
                ("learning_curves", "curve_shapes")),
    SectionSpec("behaviours", "Behaviours over training, per run", (),
                ("behaviours", "behaviors", "behaviour", "behavior", "probes")),
    SectionSpec("pca", "PCA trajectories", (), ("pca", "pca_trajectories")),
    SectionSpec("outliers", "Outlier tokens in context", (),
                ("outliers", "outlier_tokens", "outlier")),
)


@dataclass
class Section:
    """A section as rendered: heading, anchor, question labels and its analyses."""

    key: str
    title: str
    questions: tuple[str, ...]
    results: list[AnalysisResult] = field(default_factory=list)


def question_labels(question: str) -> tuple[str, ...]:
    """Split a question label such as "C/D" or "A, B" into ("C", "D")."""
    return tuple(q for q in re.split(r"[\s,/+&]+", question.strip().upper()) if q)


def _spec_for(result: AnalysisResult) -> SectionSpec | None:
    for spec in SECTIONS:
        if result.name.lower() in spec.names:
            return spec
    labels = set(question_labels(result.question or ""))
    for spec in SECTIONS:
        if labels and labels <= set(spec.questions):
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
        sections.append(Section(key, _title_of(r), question_labels(r.question or ""), [r]))
    return sections
