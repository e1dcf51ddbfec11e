"""The model of each run's chosen checkpoint, with its tokenizer, for prompting.

``LM`` bundles what the prompt analyses need; ``load_lm`` builds it from a
suite checkpoint (on the GPU where there is one). Tests pass their own
``loader`` so no weights are needed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pathdep.errors import PathdepError
from pathdep.models import load_model, load_tokenizer
from pathdep.suites import Checkpoint, Run, Suite, load_suite

log = logging.getLogger(__name__)


@dataclass
class LM:
    model: object
    encode: Callable[[str], list[int]]
    decode: Callable[[list[int]], str]
    eos_id: int | None = None
    vocab: str = ""  # equal strings mean the same tokenizer (base paths can be shared)


Loader = Callable[[Run, Checkpoint], LM]


def load_lm(run: Run, ckpt: Checkpoint) -> LM:
    import torch

    model = load_model(run, ckpt)
    if torch.cuda.is_available():
        model = model.to("cuda")
    tok = load_tokenizer(run, ckpt)
    return LM(model, lambda s: tok(s)["input_ids"], tok.decode, tok.eos_token_id,
              f"{type(tok).__name__}:{len(tok)}")


def as_suite(suite: Suite | str | Path) -> Suite:
    return suite if isinstance(suite, Suite) else load_suite(suite)


def chosen(suite: Suite, step: int | None) -> list[tuple[Run, Checkpoint]]:
    """Each run's checkpoint at ``step`` (default: its last); runs without it are skipped."""
    out = []
    for run in suite.runs:
        if not run.checkpoints:
            continue
        if step is None:
            out.append((run, max(run.checkpoints, key=lambda c: c.step)))
        elif step in run.steps:
            out.append((run, run.checkpoint(step)))
    if not out:
        have = sorted({s for r in suite.runs for s in r.steps})
        raise PathdepError(f"no run of suite {suite.name!r} has a checkpoint at step {step}; "
                           f"steps available: {have[:20]}")
    return out


def each_lm(suite: Suite, step: int | None, loader: Loader | None) -> Iterator[tuple[Run, Checkpoint, LM]]:
    for run, ckpt in chosen(suite, step):
        log.info("prompting run %s at step %d", run.id, ckpt.step)
        yield run, ckpt, (loader or load_lm)(run, ckpt)
