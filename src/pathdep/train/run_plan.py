"""One run's plan: everything the trainer needs to train it (made by grid.py and branches.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import ValidationError

from pathdep.spec import InterventionSpec, ModelSpec, TrainSpec
from pathdep.train.schedule import checkpoint_steps


@dataclass
class RunPlan:
    """Everything needed to train one run."""

    id: str
    seed: int
    data_seed: int
    model: ModelSpec
    train: TrainSpec
    interventions: list[InterventionSpec] = field(default_factory=list)
    factors: dict = field(default_factory=dict)
    parent: str | None = None  # a branch: the run it continues
    branch_step: int | None = None  # ... from this step of the parent
    end: int | None = None  # last step to train (default train.steps; the lr schedule keeps train.steps)
    save_steps: list[int] | None = None  # checkpoint steps (default: the train.checkpoints schedule)
    branch_states: list[int] = field(default_factory=list)  # steps where branches of this run start

    @property
    def last_step(self) -> int:
        return self.end if self.end is not None else self.train.steps

    def checkpoint_steps(self) -> list[int]:
        if self.save_steps is not None:
            return list(self.save_steps)
        return checkpoint_steps(self.train.checkpoints, self.train.steps)


def fmt(v) -> str:
    """A factor value as it appears in a run id."""
    return f"{v:g}" if isinstance(v, float) else str(v)


def one_line(e: ValueError) -> str:
    """A validation error in one line per problem: the key, what is wrong, the value given."""
    if not isinstance(e, ValidationError):
        return str(e)
    parts = []
    for err in e.errors():
        key = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        given = "" if err["type"] == "value_error" else f" (got {err.get('input')!r})"
        parts.append(f"{key + ': ' if key else ''}{msg}{given}")
    return "; ".join(parts)
