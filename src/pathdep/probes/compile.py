"""Probes tokenised once, into the flat arrays the store keeps and every job scores.

Each (item, continuation) is one row: prompt tokens then continuation tokens,
the prompt cut from the left so the row fits the context.

Prompt and continuation are tokenised *together* and split at the character
boundary, as lm-evaluation-harness does (``TemplateLM._encode_pair`` in
``lm_eval/api/model.py``, https://github.com/EleutherAI/lm-evaluation-harness:
it encodes context + continuation as one string and splits the tokens), so a
row holds the tokens the model would see in running text. The split uses the
fast tokenizer's offset mapping: the continuation's tokens are those ending
after the boundary. Where BPE merges a token across it (GPT-2 merges ``"}``,
``)]``, ``]}``), that token is moved into the continuation: the boundary moves
left to the token's start, for every row of the item alike (the earliest over
its continuations), so all rows of an item score the same span of text and
share a prompt. A tokenizer without offsets (a slow one) falls back to
tokenising the two apart, with a warning.

Every "sum" probe (core.py) whose items have continuations of different token
lengths under the tokenizer is named, with how many items, in one warning: the
total log-prob penalises the longer continuation for its length. The world
battery (probes/world.py) is left out of the warning: its alternatives fill one
slot of a language the model was trained on, so their total log-probs are the
model's probabilities of each, which is what those probes compare.
"""

from __future__ import annotations

import logging

import numpy as np

from pathdep.errors import PathdepError
from pathdep.probes.core import Item, Probe
from pathdep.store.probe_arrays import ProbeArrays

log = logging.getLogger(__name__)


CompiledProbes = ProbeArrays  # the store's plain arrays: the store knows no probe classes


def _encode(tok, text: str, n_prompt: int, where: str) -> tuple[list[int], list[int]]:
    """Token ids of ``text`` and the character each token ends at."""
    if getattr(tok, "is_fast", False):
        enc = tok(text, add_special_tokens=False, return_offsets_mapping=True)
        ids, ends = list(enc["input_ids"]), [int(e) for _, e in enc["offset_mapping"]]
    else:  # no offsets: prompt and continuation tokenised apart
        p, c = (list(tok(t, add_special_tokens=False)["input_ids"]) if t else []
                for t in (text[:n_prompt], text[n_prompt:]))
        ids, ends = p + c, [n_prompt] * len(p) + [len(text)] * len(c)
    unk = getattr(tok, "unk_token_id", None)
    if not ids or (unk is not None and unk in ids):
        raise PathdepError(f"{where}: {text!r} cannot be tokenised by this tokenizer (it gives "
                           f"{ids}); remove the item or use text the tokenizer knows")
    return ids, ends


def _boundary(ends: list[list[int]], b: int) -> tuple[int, list[int]]:
    """The item's character boundary and each row's first continuation token.

    A row's continuation is its tokens ending after ``b``; a token that starts
    before ``b`` moves ``b`` to where the previous token ends, until every row
    has a token boundary at ``b``.
    """
    while True:
        cut = [next((i for i, e in enumerate(row) if e > b), len(row)) for row in ends]
        nb = min(row[c - 1] if c else 0 for row, c in zip(ends, cut, strict=True))
        if nb == b:
            return b, cut
        b = nb


def _item_rows(tok, probe: Probe, k: int, it: Item, context: int) -> list[tuple[list[int], int, bool]]:
    where = f"probe {probe.name!r} item {it.id or k}"
    texts = [(c, True) for c in it.correct] + [(c, False) for c in it.incorrect]
    encs = [_encode(tok, it.prompt + c, len(it.prompt), where) for c, _ in texts]
    b, cuts = _boundary([e for _, e in encs], len(it.prompt))
    if b < len(it.prompt):
        log.debug("%s: a token spans the end of the prompt; %r is scored with the continuation",
                  where, it.prompt[b:])
    rows = []
    for ((text, ok), (ids, _)), c in zip(zip(texts, encs, strict=True), cuts, strict=True):
        prompt, cont = ids[:c], ids[c:]
        if not cont:
            raise PathdepError(f"{where}: continuation {text!r} gives no tokens of its own")
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


def unequal_items(fitting: list[tuple[int, Item, list]]) -> int:
    """How many items have continuations of different token lengths."""
    return sum(len({len(toks) - start for toks, start, _ in rows}) > 1 for _, _, rows in fitting)


def _warn_unequal(uneven: list[str]) -> None:
    if uneven:
        log.warning("probes scored by total log-prob (scoring = \"sum\") have items whose "
                    "continuations differ in token length under this tokenizer, so the longer "
                    "one loses for its length: %s; declare scoring = \"mean\" to compare per "
                    "token", ", ".join(uneven))


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
    if not getattr(tok, "is_fast", False):
        log.warning("the tokenizer has no offset mapping (not a fast tokenizer): probe prompts "
                    "and continuations are tokenised apart, not split at the boundary")
    rows, item_probe, item_id, kept, scoring, uneven = [], [], [], [], [], []
    for p in probes:
        fitting = _fitting(tok, p.check(), context, skip_bad)
        if not fitting:
            continue
        kept.append(p.name)
        scoring.append(p.scoring)
        if p.scoring == "sum" and p.source != "world" and (n := unequal_items(fitting)):
            uneven.append(f"{p.name} ({n} of {len(fitting)} items)")
        for k, it, item_rows in fitting:
            rows += [(len(item_probe), *r) for r in item_rows]
            item_probe.append(p.name)
            item_id.append(it.id or f"{p.name}:{k}")
    _warn_unequal(uneven)
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
        np.array([len(r[1]) for r in rows], np.int64), np.array([r[3] for r in rows], bool),
        np.array(scoring))
