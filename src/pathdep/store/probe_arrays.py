"""The behaviour probes as the store keeps them: plain arrays, no probe classes.

:mod:`pathdep.probes.compile` fills one from its probes (``CompiledProbes`` is
this class); the store writes it at creation and hands it back to every job.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class ProbeArrays:
    """Rows of token ids; ``row_start`` is where the continuation starts in its row."""

    names: list[str]  # (probe,)
    item_probe: np.ndarray  # (item,) str: the probe of each item
    item_id: np.ndarray  # (item,) str
    tokens: np.ndarray  # (row, ptok) int32, right-padded with 0
    row_item: np.ndarray  # (row,) int64
    row_start: np.ndarray  # (row,) int64
    row_len: np.ndarray  # (row,) int64
    row_correct: np.ndarray  # (row,) bool
    scoring: np.ndarray | None = None  # (probe,) str "sum"/"mean"; None: all "sum" (older stores)

    @property
    def n_items(self) -> int:
        return len(self.item_probe)

    @property
    def probe_scoring(self) -> np.ndarray:
        """(probe,) str: how each probe compares continuations ("sum" where not recorded)."""
        if self.scoring is None:
            return np.full(len(self.names), "sum")
        return np.asarray(self.scoring).astype(str)

    @property
    def per_token(self) -> bool:
        """Whether any probe compares continuations per token (``scoring = "mean"``)."""
        return bool((self.probe_scoring != "sum").any())
