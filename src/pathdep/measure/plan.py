"""The fixed inputs of a store, drawn once at creation and read back by every job.

- ``sample``: positions whose next-token distribution is kept (pos >= 1: the
  distribution predicting ``tokens[seq, pos]``);
- ``hsample``: positions whose residual stream is kept;
- ``prefix_tokens``: the head-score sequences of Olsson et al. 2022 (methods.md
  §1): BOS + ``n`` random tokens repeated 4 times, ``n`` = 25 scaled down so
  the sequence fits the context; the random tokens exclude special tokens and,
  when there are enough, the most and least common tokens of the evaluation set;
- the ICL positions: Olsson's 50 and 500 of a 512-token context, scaled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PREFIX_LEN, PREFIX_REPEATS = 25, 4  # Olsson et al. 2022, "prefix matching"
ICL_EARLY, ICL_LATE, ICL_CONTEXT = 50, 500, 512  # Olsson et al. 2022, ICL score


@dataclass
class Plan:
    sample_seq: np.ndarray
    sample_pos: np.ndarray
    hsample_seq: np.ndarray
    hsample_pos: np.ndarray
    prefix_tokens: np.ndarray  # (examples, 1 + 4n)


def icl_positions(context: int) -> tuple[int, int]:
    """(early, late) positions: 50 and 500 of 512, scaled to ``context`` (early < late)."""
    early = max(1, round(ICL_EARLY / ICL_CONTEXT * context))
    late = min(context - 1, round(ICL_LATE / ICL_CONTEXT * context))
    return min(early, late - 1), late


def sample_positions(n_seq: int, n_pos: int, n: int, rng, min_pos: int = 0):
    """``n`` distinct (seq, pos) pairs with pos >= min_pos, sorted, as two int arrays."""
    per_seq = n_pos - min_pos
    total = n_seq * per_seq
    flat = np.sort(rng.choice(total, size=min(n, total), replace=False))
    return flat // per_seq, flat % per_seq + min_pos


def random_token_pool(tokens: np.ndarray, special_ids: list[int]) -> np.ndarray:
    """Token ids for random sequences: seen in the eval set, not special, not extreme."""
    ids, counts = np.unique(tokens, return_counts=True)
    keep = ~np.isin(ids, special_ids)
    ids, counts = ids[keep], counts[keep]
    if len(ids) >= 50:  # drop the 10% most and 10% least common (Olsson: "excluding ...")
        order = np.argsort(counts, kind="stable")
        cut = len(ids) // 10
        ids = np.sort(ids[order[cut: len(ids) - cut]])
    return ids if len(ids) else np.unique(tokens)


def prefix_sequences(pool: np.ndarray, bos: int, context: int, examples: int, rng) -> np.ndarray:
    """``examples`` rows of BOS + x + x + x + x, x random tokens of length min(25, (T-1)//4)."""
    n = max(1, min(PREFIX_LEN, (context - 1) // PREFIX_REPEATS))
    rows = []
    for _ in range(examples):
        x = rng.choice(pool, size=n, replace=len(pool) < n)
        rows.append(np.concatenate([[bos], np.tile(x, PREFIX_REPEATS)]))
    return np.asarray(rows, dtype=np.int32)


def make_plan(tokens: np.ndarray, *, bos: int, special_ids: list[int], dist_positions: int,
              hidden_positions: int, head_examples: int, seed: int) -> Plan:
    """Draw the fixed samples and head-score inputs (deterministic given the seed)."""
    rng = np.random.default_rng([seed, 7])
    n_seq, n_pos = tokens.shape
    s_seq, s_pos = sample_positions(n_seq, n_pos, dist_positions, rng, min_pos=1)
    h_seq, h_pos = sample_positions(n_seq, n_pos, hidden_positions, rng)
    pool = random_token_pool(tokens, special_ids)
    prefix = prefix_sequences(pool, bos, n_pos, head_examples, rng)
    return Plan(s_seq, s_pos, h_seq, h_pos, prefix)
