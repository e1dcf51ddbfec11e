"""Score compiled probes with one model: all items of all probes batched together.

Rows are sorted by length and right-padded (under causal attention, padding
after a row's end changes nothing before it), one forward pass per batch; the
head is applied only at the positions that predict continuation tokens, whose
log-probs are summed per row. A row is then compared by that total, or by its
mean per token where its probe declares ``scoring = "mean"`` (core.py).

    scores = score_probes(model, compiled, batch_size=16)
    scores.accuracy, scores.margin          # (probe,)
    scores.item_correct, scores.item_margin  # (item,)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from pathdep.models import arch
from pathdep.probes.compile import CompiledProbes


@dataclass
class ProbeScores:
    accuracy: np.ndarray  # (probe,) float32: share of items right
    margin: np.ndarray  # (probe,) float32: mean item margin (nats; per token for "mean" probes)
    item_correct: np.ndarray  # (item,) float32: 1 right, 0 wrong
    item_margin: np.ndarray  # (item,) float32: best correct - best incorrect score


def row_logprobs(model, c: CompiledProbes, batch_size: int = 16) -> np.ndarray:
    """Total log-prob of each row's continuation given its prompt, (row,) float64."""
    body, head = arch.logits_head(model)
    order = np.argsort(c.row_len, kind="stable")
    out = np.zeros(len(order), np.float64)
    dev = head.weight.device
    with torch.inference_mode():
        for b0 in range(0, len(order), batch_size):
            idx = order[b0:b0 + batch_size]
            width = int(c.row_len[idx].max())
            x = torch.from_numpy(c.tokens[idx, :width]).long().to(dev)  # (B, T)
            h = body(x).last_hidden_state  # (B, T, d)
            r, t = _continuation_positions(c, idx)
            r, t = r.to(dev), t.to(dev)
            lp = torch.log_softmax(head(h[r, t - 1]).float(), dim=-1)  # (n, V)
            tok_lp = lp.gather(-1, x[r, t][:, None])[:, 0].double().cpu().numpy()
            out[idx] = np.bincount(r.cpu().numpy(), tok_lp, minlength=len(idx))
    return out


def _continuation_positions(c: CompiledProbes, idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """(row in batch, position) of every continuation token of the batch's rows."""
    rows, pos = [], []
    for j, i in enumerate(idx):
        span = np.arange(c.row_start[i], c.row_len[i])
        rows.append(np.full(len(span), j))
        pos.append(span)
    return torch.from_numpy(np.concatenate(rows)), torch.from_numpy(np.concatenate(pos))


def row_scores(c: CompiledProbes, row_lp: np.ndarray) -> np.ndarray:
    """What each row is compared by: its total log-prob, or the mean per token of its
    continuation where its probe declares ``scoring = "mean"``, (row,) float64."""
    per_token = np.isin(c.item_probe[c.row_item], np.asarray(c.names)[c.probe_scoring == "mean"])
    return np.where(per_token, row_lp / (c.row_len - c.row_start), row_lp)


def scores_from_rows(c: CompiledProbes, row_lp: np.ndarray) -> ProbeScores:
    """Per-item and per-probe results from the rows' total log-probs."""
    row_lp = row_scores(c, row_lp)
    best_ok = np.full(c.n_items, -np.inf)
    best_bad = np.full(c.n_items, -np.inf)
    np.maximum.at(best_ok, c.row_item[c.row_correct], row_lp[c.row_correct])
    np.maximum.at(best_bad, c.row_item[~c.row_correct], row_lp[~c.row_correct])
    margin = best_ok - best_bad
    correct = (margin > 0).astype(np.float32)
    acc = np.array([correct[c.item_probe == n].mean() for n in c.names], np.float32)
    mean_margin = np.array([margin[c.item_probe == n].mean() for n in c.names], np.float32)
    return ProbeScores(acc, mean_margin, correct, margin.astype(np.float32))


def score_probes(model, c: CompiledProbes, batch_size: int = 16) -> ProbeScores:
    """Accuracy and margin per probe, and per-item results, of ``model`` on ``c``."""
    return scores_from_rows(c, row_logprobs(model, c, batch_size))
