"""[[interventions]]: one class per kind (docs, file, canaries, counterfactual, behavior, lr_scale),
a discriminated union picked by the key given."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BeforeValidator,
    Discriminator,
    Field,
    Tag,
    model_serializer,
    model_validator,
)

from pathdep.spec.base import SafeName, _Strict


class _Intervention(_Strict):
    """Something done to training over a range of steps: injected documents or a learning-rate change.

    One class per kind; the TOML names no kind: the key given picks it (see
    ``InterventionSpec``). Each listed step from ``start`` to ``end`` (every
    ``every``-th) replaces ``rows`` rows of the batch with injected documents,
    cycling through them. In a branch (``[[branches]]``) ``start`` and ``end``
    count from the branch step: ``start = 1`` is the first step after it.
    """

    kind: ClassVar[str]
    #: Keys every saved intervention carries (None where unused), so that the
    #: spec digest and the saved spec.json are those of the one-class spec of
    #: earlier versions.
    _LEGACY_KEYS: ClassVar[tuple[str, ...]] = ("docs", "file", "source", "select")

    name: SafeName
    start: int = Field(ge=0, description="First step of the injection.")
    end: int = Field(ge=0, description="Last step of the injection (inclusive).")
    every: int = Field(1, ge=1, description="Inject at every k-th step of the range.")
    rows: int = Field(1, ge=1, description="Batch rows replaced at each injection step.")

    injects: ClassVar[bool] = True  # False for a learning-rate change

    @model_validator(mode="after")
    def _ordered(self):
        if self.end < self.start:
            raise ValueError(f"intervention {self.name!r}: end ({self.end}) is before start ({self.start})")
        return self

    @model_serializer(mode="wrap")
    def _dump(self, handler):
        out = {k: None for k in self._LEGACY_KEYS}
        out.update(handler(self))
        return out


class DocsIntervention(_Intervention):
    """Inject the given documents (``docs``, strings)."""

    kind: ClassVar[str] = "docs"
    docs: list[str] = Field(min_length=1, description="Documents to inject.")


class FileIntervention(_Intervention):
    """Inject the non-empty lines of ``file`` (relative to the spec's folder)."""

    kind: ClassVar[str] = "file"
    file: str = Field(description="A text file, one document a line.")


class CanaryIntervention(_Intervention):
    """Inject the data generator's canaries (``source = "canaries"``), optionally ``select``-ed."""

    kind: ClassVar[str] = "canaries"
    source: Literal["canaries"] = "canaries"
    select: list[int] | None = Field(None, description="Which canaries (indices), default all.")


class CounterfactualIntervention(_Intervention):
    """Counterfactual facts (``source = "counterfactual"``, world suites).

    Each ``select``-ed fact, default the first ``n_facts`` frequent ones, is
    stated with another value of its attribute.
    """

    kind: ClassVar[str] = "counterfactual"
    source: Literal["counterfactual"] = "counterfactual"
    select: list[int] | None = Field(None, description="Which facts (indices), default the first n_facts frequent facts.")
    n_facts: int = Field(4, ge=1, exclude_if=lambda v: v == 4,
                         description="How many frequent facts to contradict when select is not given.")


class BehaviorIntervention(_Intervention):
    """A burst of one behaviour's data (``source = "behavior"``, ``behavior = "brackets"``).

    Training documents that hold brackets, e-mails, acronyms, repeated spans or facts.
    """

    kind: ClassVar[str] = "behavior"
    source: Literal["behavior"] = "behavior"
    behavior: Literal["brackets", "emails", "acronyms", "repeats", "facts"] = Field(
        description="Inject training documents with this (world) annotation.")


class LRIntervention(_Intervention):
    """A short change of learning rate: ``lr_scale`` multiplies it over the steps (no documents)."""

    kind: ClassVar[str] = "lr_scale"
    injects: ClassVar[bool] = False
    lr_scale: float = Field(gt=0, description="Multiply the learning rate by this over the steps.")


_KINDS = ("docs", "file", "source", "lr_scale")
# Keys of the one-class spec of earlier versions that a kind does not use, with the
# values that mean "not given" there: tolerated (and dropped) so that every TOML and
# every saved spec.json that was valid stays valid.
_UNUSED_DEFAULTS = {"docs": None, "file": None, "source": None, "select": None, "behavior": None,
                    "lr_scale": None, "n_facts": 4}


def _intervention_kind(v: Any) -> str | None:
    if isinstance(v, _Intervention):
        return v.kind
    if not isinstance(v, dict):
        return None
    given = [k for k in _KINDS if v.get(k)]
    if len(given) != 1:
        return None
    return str(v["source"]) if given[0] == "source" else given[0]


def _check_intervention(v: Any) -> Any:
    """The one-class spec's messages for the wrong mix of keys; unused defaults dropped."""
    if not isinstance(v, dict):
        return v
    name = v.get("name")
    kind = _intervention_kind(v)
    if kind is None:
        raise ValueError(f"intervention {name!r} needs exactly one of docs, file, "
                         "source='canaries'|'counterfactual' or lr_scale")
    if kind not in _INTERVENTION_CLASSES:
        raise ValueError(f"intervention {name!r}: source must be 'canaries', 'counterfactual' "
                         f"or 'behavior', got {v['source']!r}")
    if (kind == "behavior") != (v.get("behavior") is not None):
        raise ValueError(f"intervention {name!r}: source = 'behavior' and behavior = "
                         "'brackets'|'emails'|'acronyms'|'repeats'|'facts' go together")
    fields = _INTERVENTION_CLASSES[kind].model_fields
    return {k: x for k, x in v.items()
            if k in fields or k not in _UNUSED_DEFAULTS or x != _UNUSED_DEFAULTS[k]}


_INTERVENTION_CLASSES: dict[str, type[_Intervention]] = {
    c.kind: c for c in (DocsIntervention, FileIntervention, CanaryIntervention,
                        CounterfactualIntervention, BehaviorIntervention, LRIntervention)
}

InterventionSpec = Annotated[
    Annotated[DocsIntervention, Tag("docs")] | Annotated[FileIntervention, Tag("file")]
    | Annotated[CanaryIntervention, Tag("canaries")]
    | Annotated[CounterfactualIntervention, Tag("counterfactual")]
    | Annotated[BehaviorIntervention, Tag("behavior")] | Annotated[LRIntervention, Tag("lr_scale")],
    Discriminator(_intervention_kind),
    BeforeValidator(_check_intervention),
]
"""An intervention: the key given (docs, file, source or lr_scale) picks its class."""
