"""An experiment is one TOML file, validated here.

    pathdep validate examples/quick.toml

Sections: ``[data]`` (a generator and its options), ``[tokenizer]``,
``[model]``, ``[train]``, ``[grid]`` (lists of factor values to cross, plus
``[[grid.variants]]``), ``[[interventions]]``, ``[[branches]]``, ``[rl]``,
``[measure]``, ``[report]``.
Unknown keys are errors; every error names the key, the bad value and what is
allowed.

The sections live in ``spec/sections.py``, the interventions in
``spec/interventions.py``; this module assembles the whole spec and reads it.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, Field, ValidationError, model_validator

from pathdep.data.markov import MarkovConfig
from pathdep.data.repeat_copy import RepeatCopyConfig
from pathdep.data.text import HFDatasetConfig, TextConfig
from pathdep.data.world import WorldConfig
from pathdep.errors import PathdepError
from pathdep.spec.base import SafeName, _Strict
from pathdep.spec.interventions import (
    _INTERVENTION_CLASSES,
    BehaviorIntervention,
    CanaryIntervention,
    CounterfactualIntervention,
    DocsIntervention,
    FileIntervention,
    InterventionSpec,
    LRIntervention,
)
from pathdep.spec.sections import (
    ARCH_ONLY_KEYS,
    BRANCH_TRAIN_KEYS,
    GRID_KEYS_FIXED,
    BranchSpec,
    GridSpec,
    MeasureSpec,
    ModelSpec,
    ReportSpec,
    RLSpec,
    TokenizerSpec,
    TrainSpec,
)

__all__ = ["ARCH_ONLY_KEYS", "BRANCH_TRAIN_KEYS", "GRID_KEYS_FIXED", "BehaviorIntervention",
           "BranchSpec", "CanaryIntervention", "CounterfactualIntervention", "DataSpec",
           "DocsIntervention", "FileIntervention", "GridSpec", "InterventionSpec", "LRIntervention",
           "MeasureSpec", "ModelSpec", "RLSpec", "ReportSpec", "SafeName", "Spec", "TokenizerSpec",
           "TrainSpec", "format_errors", "load_spec", "parse_spec"]

DataSpec = Annotated[
    WorldConfig | MarkovConfig | RepeatCopyConfig | TextConfig | HFDatasetConfig, Field(discriminator="generator")
]


class Spec(_Strict):
    """A whole experiment."""

    name: SafeName = Field(description="Suite name.")
    data: DataSpec
    tokenizer: TokenizerSpec = TokenizerSpec()
    model: ModelSpec = ModelSpec()
    train: TrainSpec
    grid: GridSpec = GridSpec()
    interventions: list[InterventionSpec] = Field(default_factory=list)
    branches: list[BranchSpec] = Field(default_factory=list, exclude_if=lambda v: not v)
    rl: RLSpec | None = Field(None, exclude_if=lambda v: v is None)
    measure: MeasureSpec = MeasureSpec()
    report: ReportSpec = ReportSpec()

    @model_validator(mode="after")
    def _interventions_named(self):
        names = [i.name for i in self.interventions]
        if len(set(names)) != len(names):
            raise ValueError(f"interventions have duplicate names: {names}")
        for n in self.grid.intervention or []:
            if n != "none" and n not in names:
                raise ValueError(
                    f"grid.intervention names {n!r}, which is not an intervention; "
                    f"defined: {names + ['none']}"
                )
        bnames = [b.name for b in self.branches]
        if len(set(bnames)) != len(bnames):
            raise ValueError(f"branches have duplicate names: {bnames}")
        for b in self.branches:
            for n in b.intervention or []:
                if n != "none" and n not in names:
                    raise ValueError(
                        f"branches {b.name!r} names intervention {n!r}, which is not defined; "
                        f"defined: {names + ['none']}"
                    )
        return self

    def digest(self) -> str:
        """A hash of everything that determines the grid runs' weights.

        Branches and RL fine-tuning are left out: adding them to a trained suite
        adds runs without changing the existing ones.
        """
        dump = self.model_dump(mode="json", exclude={"branches", "rl"})
        dump["report"].pop("analyses", None)  # which analyses run changes no weights
        only_branches = {n for b in self.branches for n in b.intervention or []} - set(
            self.grid.intervention or [])
        dump["interventions"] = [i for i in dump["interventions"] if i["name"] not in only_branches]
        return hashlib.sha256(json.dumps(dump, sort_keys=True).encode()).hexdigest()[:16]


_DATA_TAGS = {"world": WorldConfig, "markov-mixture": MarkovConfig,
              "repeat-copy": RepeatCopyConfig, "text": TextConfig,
              "hf-dataset": HFDatasetConfig}


def _untag(loc: tuple) -> tuple[tuple, dict[int, type[BaseModel]]]:
    """An error location without its union tags, and the class each tag picked (by position)."""
    if len(loc) > 1 and loc[0] == "data" and loc[1] in _DATA_TAGS:
        return loc[:1] + loc[2:], {0: _DATA_TAGS[loc[1]]}
    if len(loc) > 2 and loc[0] == "interventions" and loc[2] in _INTERVENTION_CLASSES:
        return loc[:2] + loc[3:], {1: _INTERVENTION_CLASSES[loc[2]]}
    return loc, {}


def _allowed_at(model: type[BaseModel], loc: tuple) -> list[str]:
    """Field names allowed at a location of a validation error (for 'unknown key')."""
    loc, picked = _untag(loc)
    cur: Any = model
    for i, part in enumerate(loc[:-1]):
        if not isinstance(part, int):
            fields = getattr(cur, "model_fields", {})
            cur = _model_in(fields[part].annotation) if part in fields else None
        cur = picked.get(i, cur)
        if cur is None:
            return []
    return sorted(getattr(cur, "model_fields", {}))


def _model_in(ann) -> type[BaseModel] | None:
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann
    for a in getattr(ann, "__args__", ()) or ():
        m = _model_in(a)
        if m is not None:
            return m
    return None


def format_errors(e: ValidationError, source: str) -> str:
    """One line per problem: the key, what is wrong, the value given, what is allowed."""
    lines = [f"{source}: the spec is not valid:"]
    for err in e.errors():
        loc = tuple(err["loc"])
        key = ".".join(str(p) for p in _untag(loc)[0])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            allowed = _allowed_at(Spec, loc)
            msg = "unknown key" + (f"; allowed here: {', '.join(allowed)}" if allowed else "")
        elif err["type"] == "missing":
            msg = "required key is missing"
        given = "" if err["type"] in ("missing", "value_error") else f" (got {err.get('input')!r})"
        lines.append(f"  - {key or '(top level)'}: {msg}{given}")
    return "\n".join(lines)


def parse_spec(data: dict, source: str = "spec") -> Spec:
    """Validate a spec given as a dict; raises PathdepError listing every problem."""
    try:
        return Spec.model_validate(data)
    except ValidationError as e:
        raise PathdepError(format_errors(e, source)) from None


def load_spec(path: str | Path) -> Spec:
    """Read and validate a TOML spec file."""
    path = Path(path)
    if not path.is_file():
        raise PathdepError(f"spec file {path} does not exist")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise PathdepError(f"{path} is not valid TOML: {e}") from None
    spec = parse_spec(data, str(path))
    _resolve_paths(spec, path.parent)
    return spec


def _resolve_paths(spec: Spec, base: Path) -> None:
    """Make file paths in the spec relative to the spec's own folder."""
    def fix(p: str | None) -> str | None:
        if p is None or Path(p).is_absolute():
            return p
        cand = (base / p)
        return str(cand) if cand.exists() or not Path(p).exists() else p

    if isinstance(spec.data, TextConfig):
        spec.data.path = fix(spec.data.path)
    for iv in spec.interventions:
        if isinstance(iv, FileIntervention):
            iv.file = fix(iv.file)
