"""Which analysis goes in which section of the report, and in what order.

The sections follow the path-dependence questions (A-H). Each registered
analysis names its section (``Analysis.section`` in
:mod:`pathdep.analyze.registry`) and the registry's order is the order inside a
section. A result whose analysis is not registered (a plugin's, say) is placed
by the first letter of its question label ("A", "C/D"), else it gets a section
of its own at the end.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pathdep.analysis.result import AnalysisResult
from pathdep.analyze.registry import ANALYSES, REGISTRY


@dataclass(frozen=True)
class SectionSpec:
    """A known section: anchor, heading and the question letters it answers."""

    key: str
    title: str
    questions: tuple[str, ...]


SECTIONS: tuple[SectionSpec, ...] = (
    SectionSpec("differences", "How different are the runs?", ("A", "B")),
    SectionSpec("clusters", "Distinct clusters, basins and their stability", ("C", "D")),
    SectionSpec("predictiveness", "Does mid-training predict the end?", ("E",)),
    SectionSpec("circuits", "Circuits and phase changes", ("G",)),
    SectionSpec("interventions", "Interventions and instability", ("F",)),
    SectionSpec("rl", "RL fine-tuning: path dependence after pre-training", ()),
    SectionSpec("learning-curves", "Learning-curve shapes", ()),
    SectionSpec("behaviours", "Behaviours over training, per run", ()),
    SectionSpec("pca", "PCA trajectories", ()),
    SectionSpec("icl-algorithms", "In-context algorithms (Park et al.)", ()),
    SectionSpec("prompts", "Prompt dependence and forking tokens", ()),
)
SECTION_KEYS = {sp.key: sp for sp in SECTIONS}
_ORDER = {a.name: i for i, a in enumerate(ANALYSES)}


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
    """The registered analysis's section, else the first question letter's."""
    entry = REGISTRY.get(result.name)
    if entry is not None:
        return SECTION_KEYS[entry.section]
    for letter in question_labels(result.question):
        spec = next((sp for sp in SECTIONS if letter in sp.questions), None)
        if spec is not None:
            return spec
    return None


def _rank(result: AnalysisResult) -> tuple[int, str]:
    return (_ORDER.get(result.name, len(_ORDER)), result.name.lower())


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
            members = sorted(known[spec.key], key=_rank)
            sections.append(Section(spec.key, spec.title, spec.questions, members))
    used = {s.key for s in sections}
    for r in sorted(others, key=lambda r: r.name.lower()):
        key = "other-" + re.sub(r"[^a-z0-9]+", "-", r.name.lower()).strip("-")
        while key in used:
            key += "-x"
        used.add(key)
        sections.append(Section(key, _title_of(r), question_labels(r.question), [r]))
    return sections
