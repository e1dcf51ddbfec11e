"""Probes tokenised once, into the flat arrays the store keeps and every job scores.

Each (item, continuation) is one row: prompt tokens then continuation tokens,
the prompt cut from the left so the row fits the context. The prompt and the
continuation are tokenised separately (as lm-evaluation-harness does), so the
continuation's tokens are the same in every row of an item.
"""

from __future__ import annotations

import logging

import numpy as np

from pathdep.errors import PathdepError
from pathdep.probes.core import Item, Probe
from pathdep.store.probe_arrays import ProbeArrays

log = logging.getLogger(__name__)


CompiledProbes = ProbeArrays  # the store's plain arrays: the store knows no probe classes


def _ids(tok, text: str, where: str) -> list[int]:
    ids = list(tok(text, add_special_tokens=False)["input_ids"]) if text else []
    unk = getattr(tok, "unk_token_id", None)
    if text and (not ids or (unk is not None and unk in ids)):
        raise PathdepError(f"{where}: {text!r} cannot be tokenised by this tokenizer (it gives "
                           f"{ids}); remove the item or use text the tokenizer knows")
    return ids


def _item_rows(tok, probe: Probe, k: int, it: Item, context: int) -> list[tuple[list[int], int, bool]]:
    where = f"probe {probe.name!r} item {it.id or k}"
    prompt = _ids(tok, it.prompt, where)
    rows = []
    for text, ok in [(c, True) for c in it.correct] + [(c, False) for c in it.incorrect]:
        cont = _ids(tok, text, where)
        if len(cont) >= context:
            raise PathdepError(f"{where}: continuation {text!r} has {len(cont)} tokens, not "
                               f"fewer than the context ({context})")
        p = prompt[max(0, len(prompt) - (context - len(cont))):]
        if not p:
            raise PathdepError(f"{where}: the prompt is empty; a continuation needs a prompt")
        rows.append((p + cont, len(p), ok))
    return rows


def _fitting(tok, p: Probe, context: int, skip_bad: bool) -> list[tuple[int, Item, list]]:
    """(index, item, rows) of the items of ``p`` that fit the tokenizer and the context."""
    out, bad = [], []
    for k, it in enumerate(p.items):
        try:
            out.append((k, it, _item_rows(tok, p, k, it, context)))
        except PathdepError as e:
            if not skip_bad:
                raise
            bad.append(str(e))
    if bad:
        log.warning("probe %s: %d of %d items left out (they do not fit the tokenizer or the "
                    "context), e.g. %s", p.name, len(bad), len(p.items), bad[0])
    return out


def compile_probes(probes: list[Probe], tok, context: int,
                   skip_bad: bool = False) -> CompiledProbes | None:
    """Tokenise ``probes`` with ``tok`` into rows of at most ``context`` tokens.

    An item that does not fit raises :class:`PathdepError`; with ``skip_bad``
    it is left out (with a warning), and so is a probe left without items
    (None when no probe is left).
    """
    names = [p.name for p in probes]
    if len(set(names)) != len(names):
        raise PathdepError(f"probe names repeat: {names}; each probe needs its own name")
    rows, item_probe, item_id, kept = [], [], [], []
    for p in probes:
        fitting = _fitting(tok, p.check(), context, skip_bad)
        if not fitting:
            continue
        kept.append(p.name)
        for k, it, item_rows in fitting:
            rows += [(len(item_probe), *r) for r in item_rows]
            item_probe.append(p.name)
            item_id.append(it.id or f"{p.name}:{k}")
    if not rows:
        return None
    names = kept
    width = max(len(r[1]) for r in rows)
    tokens = np.zeros((len(rows), width), np.int32)
    for i, (_, toks, _, _) in enumerate(rows):
        tokens[i, : len(toks)] = toks
    return CompiledProbes(
        names, np.array(item_probe), np.array(item_id), tokens,
        np.array([r[0] for r in rows], np.int64), np.array([r[2] for r in rows], np.int64),
        np.array([len(r[1]) for r in rows], np.int64), np.array([r[3] for r in rows], bool))
