"""The data order: which tokens each optimizer step sees, from the data-order seed alone.

Each epoch shuffles the documents with ``(data_seed, epoch)``, joins them with
the end-of-text token and cuts the stream into blocks of ``context`` tokens;
step s takes the next ``batch_size`` blocks. With ``packing = "doc_start"``
(``[train] packing``) every block instead starts where a document starts (or
``context``, ``2 * context``, ... tokens into a long one) and runs on into the
documents that follow it, so each document is seen from the first position of
a context, as in the sequences on which Olsson et al. 2022 and issue 13's recipe
see induction heads form; packed documents cut by a block boundary lose that
(BENCHMARKS.md, "Do induction heads form in the demo?"). Because the batch at step s is a
pure function of (data_seed, s), a resumed run sees exactly the data it would
have seen, and two runs with the same data seed see the same order whatever
their init seed.

Interventions replace rows of a step's batch with injected documents; every
injection and every tracked document (rare facts, canaries) is recorded with
the step at which it was seen.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import torch

from pathdep.errors import PathdepError


@dataclass
class TokenizedCorpus:
    """Documents as one id array with offsets, plus tracked item ids per document."""

    ids: np.ndarray  # (total,) int32, documents back to back, each followed by EOS
    offsets: np.ndarray  # (n_docs + 1,) start of each document in ids
    tracked: dict[int, list[str]]  # doc index -> tracked item ids

    @property
    def n_docs(self) -> int:
        return len(self.offsets) - 1

    @classmethod
    def build(cls, tok, docs: list[str], annotations: list[dict]) -> TokenizedCorpus:
        eos = tok.eos_token_id
        enc = tok(docs, add_special_tokens=False)["input_ids"]
        lens = np.array([len(e) + 1 for e in enc], dtype=np.int64)
        ids = np.fromiter((t for e in enc for t in (*e, eos)), dtype=np.int32, count=int(lens.sum()))
        offsets = np.concatenate([[0], np.cumsum(lens)])
        tracked = {i: list(a["tracked"]) for i, a in enumerate(annotations) if a.get("tracked")}
        return cls(ids, offsets, tracked)


class DataOrder:
    """Batches for one data-order seed, plus bookkeeping of what was seen when."""

    def __init__(self, corpus: TokenizedCorpus, data_seed: int, context: int, batch_size: int,
                 packing: str = "stream"):
        self.c, self.seed, self.T, self.B = corpus, data_seed, context, batch_size
        self.packing = packing
        if packing == "doc_start":  # ceil(len / T) blocks per document, whatever the order
            self.blocks_per_epoch = int((-(-np.diff(corpus.offsets) // context)).sum())
        else:
            self.blocks_per_epoch = len(corpus.ids) // context
        if self.blocks_per_epoch < 1:
            raise PathdepError(
                f"the corpus has {len(corpus.ids)} tokens, fewer than one sequence of "
                f"{context} (model.context); add data or lower model.context"
            )
        self._epoch, self._stream, self._starts, self._order = -1, None, None, None

    def _load_epoch(self, epoch: int) -> None:
        if epoch == self._epoch:
            return
        c = self.c
        order = np.random.default_rng([self.seed, epoch]).permutation(c.n_docs)
        lens = np.diff(c.offsets)[order]
        self._stream = np.concatenate([c.ids[c.offsets[d] : c.offsets[d + 1]] for d in order])
        self._starts = np.concatenate([[0], np.cumsum(lens)])
        self._order, self._epoch = order, epoch
        if self.packing == "doc_start":
            T = self.T
            self._blocks = np.concatenate([np.arange(a, b, T) for a, b in
                                           zip(self._starts[:-1], self._starts[1:], strict=True)])
            self._stream = np.concatenate([self._stream, self._stream[:T]])  # the last runs on

    def _block(self, b: int) -> tuple[int, int]:
        lo = int(self._blocks[b]) if self.packing == "doc_start" else b * self.T
        return lo, lo + self.T

    def batch(self, step: int) -> tuple[torch.Tensor, list[int]]:
        """(input_ids[B, T], doc indices seen) for optimizer step ``step`` (0-based update)."""
        rows, docs = [], []
        for g in range(step * self.B, (step + 1) * self.B):
            epoch, b = divmod(g, self.blocks_per_epoch)
            self._load_epoch(epoch)
            lo, hi = self._block(b)
            rows.append(self._stream[lo:hi])
            if self.c.tracked:
                first = np.searchsorted(self._starts, lo, side="right") - 1
                last = np.searchsorted(self._starts, hi, side="left")
                n = len(self._order)
                docs.extend(int(self._order[i % n]) for i in range(first, last))
        return torch.from_numpy(np.stack(rows).astype(np.int64)), docs


class Injector:
    """Interventions: documents that replace batch rows at chosen steps."""

    def __init__(self, interventions, docs_of: dict[str, list[tuple[str, np.ndarray]]]):
        self.ivs = interventions
        self.docs_of = docs_of  # intervention name -> [(item id, token ids)]

    def apply(self, step: int, batch: torch.Tensor) -> list[str]:
        """Inject into ``batch`` (in place) for update ``step``; return the item ids injected."""
        seen, row = [], batch.shape[0]
        for iv in self.ivs:
            if not (iv.start <= step <= iv.end and (step - iv.start) % iv.every == 0):
                continue
            items = self.docs_of[iv.name]
            k = (step - iv.start) // iv.every
            for r in range(iv.rows):
                row -= 1
                if row < 0:
                    raise PathdepError(f"intervention {iv.name!r} replaces more rows than train.batch_size")
                item_id, ids = items[(k * iv.rows + r) % len(items)]
                T = batch.shape[1]
                joined = torch.cat([torch.from_numpy(ids.astype(np.int64)), batch[row]])[:T]
                batch[row] = joined
                seen.append(item_id)
        return seen


class SeenLog:
    """Item id -> steps at which it was in a batch (tracked facts and injections)."""

    def __init__(self, data: dict[str, list[int]] | None = None):
        self.steps: dict[str, list[int]] = defaultdict(list, data or {})

    def add(self, step: int, items) -> None:
        for it in items:
            s = self.steps[it]
            if not s or s[-1] != step:
                s.append(step)

    def to_dict(self) -> dict[str, list[int]]:
        return {k: list(v) for k, v in sorted(self.steps.items())}
