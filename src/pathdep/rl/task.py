"""RL tasks whose answer can be written in two interchangeable surface forms.

    task = world_spelling_task("runs/spell")     # a world suite with data.spelling_variants > 0
    task.reward(task.train[0], " Ytamsin.")      # 1.0: the right value, in its second spelling

A :class:`FormTask` is a list of prompts, each with the two acceptable forms
A and B of its correct answer, split into prompts RL trains on and held-out
prompts (other facts) on which the form preference is measured. The reward
depends on correctness only: 1 when the sampled answer's first word is the
correct value in either form, else 0.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from pathdep.errors import PathdepError
from pathdep.suites import Suite, load_suite

END = ".,!?;:"
_FIRST = re.compile(r"\S+")


@dataclass(frozen=True)
class FormItem:
    """One prompt; ``a`` and ``b`` are the two correct surface forms (without the space)."""

    prompt: str
    a: str
    b: str
    id: str = ""


def first_word(completion: str) -> str:
    """The first whitespace-separated word of ``completion``, end punctuation stripped."""
    m = _FIRST.search(completion)
    return m.group().rstrip(END) if m else ""


@dataclass
class FormTask:
    """Prompts with two acceptable answer forms, split into train and held-out prompts."""

    name: str
    train: list[FormItem]
    heldout: list[FormItem]
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        if not self.train:
            raise PathdepError(f"task {self.name!r} has no training prompts")
        for it in [*self.train, *self.heldout]:
            if it.a == it.b or not it.a or not it.b:
                raise PathdepError(f"task {self.name!r}: item {it.id or it.prompt!r} needs two "
                                   f"different non-empty forms, got {it.a!r} and {it.b!r}")

    @staticmethod
    def reward(item: FormItem, completion: str) -> float:
        """1.0 if the completion's first word is ``item.a`` or ``item.b``, else 0.0."""
        return float(first_word(completion) in (item.a, item.b))

    @staticmethod
    def form(item: FormItem, completion: str) -> str | None:
        """"A" or "B" for a correct completion, None for a wrong one."""
        w = first_word(completion)
        return "A" if w == item.a else "B" if w == item.b else None


def _suite_info(suite) -> tuple[dict, dict]:
    """(data spec, data/info.json) of a trained world suite with spelling variants."""
    spec = (suite.meta or {}).get("spec") or {}
    data = spec.get("data") or {}
    if data.get("generator") != "world" or not suite.root:
        raise PathdepError(
            f"suite {suite.name!r} is not a world suite trained by pathdep; the world-spelling "
            "task needs the world's facts kept with the suite (data/info.json). Train a suite "
            "with [data] generator = \"world\" and spelling_variants > 0"
        )
    if not data.get("spelling_variants"):
        raise PathdepError(
            f"suite {suite.name!r} was trained with data.spelling_variants = 0, so every fact "
            "value has one spelling and there is no form to choose; train a suite with "
            "spelling_variants > 0 in [data] (e.g. 0.5)"
        )
    path = Path(suite.root) / "data" / "info.json"
    if not path.is_file():
        raise PathdepError(f"{path} is missing; re-run `pathdep train` on the suite to rewrite it")
    return data, json.loads(path.read_text())


def spelling_task_from_info(info: dict, heldout: float = 0.25, seed: int = 0) -> FormTask:
    """The world-spelling task of a world corpus's ``info`` (with ``info["spellings"]``).

    One item per fact template and fact whose value has a second spelling:
    prompt "The capital of Velora is", forms A = "Tamsin" (standard) and
    B = "Ytamsin" (variant). A ``heldout`` share of the facts (all their
    templates), drawn with ``seed``, is held out.
    """
    sp = info.get("spellings")
    if not sp:
        raise PathdepError("the world corpus has no second spellings (info['spellings']); "
                           "generate it with spelling_variants > 0")
    if not 0 <= heldout < 1:
        raise PathdepError(f"heldout must be in [0, 1), got {heldout}")
    templates = info["fact_templates"]
    facts = sorted((f for f in info["facts"] if f["value"] in sp), key=lambda f: f["id"])
    rng = random.Random(f"pathdep.rl.world-spelling:{seed}")
    held = set(rng.sample(range(len(facts)), round(heldout * len(facts))))
    train, test = [], []
    for i, f in enumerate(facts):
        items = [FormItem(t.format(entity=f["entity"]), f["value"], sp[f["value"]],
                          f"{f['id']}#{k}") for k, t in enumerate(templates[f["attribute"]])]
        (test if i in held else train).extend(items)
    return FormTask("world-spelling", train, test,
                    {"n_facts": len(facts), "n_heldout_facts": len(held), "seed": seed,
                     "form_a": "standard spelling", "form_b": "variant spelling (initial y)"})


def world_spelling_task(suite, heldout: float = 0.25, seed: int = 0) -> FormTask:
    """The world-spelling task of a trained world suite (a Suite or its folder).

    Raises PathdepError when the suite is not a world suite trained by pathdep
    or was trained with ``data.spelling_variants = 0``.
    """
    suite = suite if isinstance(suite, Suite) else load_suite(suite)
    _, info = _suite_info(suite)
    return spelling_task_from_info(info, heldout, seed)


TASKS = {"world-spelling": world_spelling_task}


def make_task(name: str, suite) -> FormTask:
    if name not in TASKS:
        raise PathdepError(f"unknown RL task {name!r}; known: {', '.join(TASKS)}")
    return TASKS[name](suite)
