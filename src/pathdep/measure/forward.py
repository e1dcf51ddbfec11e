"""The main pass: one batched forward pass per batch serves every per-token measurement.

From each batch's final hidden state, logits are made a slice of positions at
a time (never a whole (batch, pos, vocab) tensor for long contexts, never the
whole evaluation set's logits), and from each slice: the log-prob of the true
next token, the entropy of the predictive distribution, and the kept
distributions at the fixed sample positions (full vocabulary, or top-k plus
the log of the remaining mass). Residual-stream samples are taken by hooks
during the same pass (arch.residual_taps).

Conventions (docs/store.md): ``logprob[seq, pos] = log p(tokens[seq, pos] |
tokens[seq, :pos])``, NaN at pos 0; sample (s, p) keeps the distribution that
predicts ``tokens[s, p]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from pathdep.models import arch
from pathdep.progress import bar

LOGIT_BUDGET = 1 << 24  # logits (floats) held at once


@dataclass
class PassResult:
    logprob: np.ndarray  # (seq, pos) float32
    entropy: np.ndarray  # (seq, pos) float32
    dist_logp: np.ndarray  # (sample, k)
    dist_ids: np.ndarray  # (sample, k) int32
    dist_rest: np.ndarray  # (sample,)
    hidden: np.ndarray  # (hlayer, hsample, d) float16


@dataclass
class Samples:
    """Fixed positions (from the store) and what to keep there."""

    seq: np.ndarray
    pos: np.ndarray
    hseq: np.ndarray
    hpos: np.ndarray
    hlayers: list[int]
    top_k: int | None  # None: keep the whole vocabulary


def _keep_dist(lp: Tensor, top_k: int | None) -> tuple[Tensor, Tensor, Tensor]:
    """(logp, ids, rest) for rows of log-probs (n, V)."""
    n, V = lp.shape
    if top_k is None or top_k >= V:
        ids = torch.arange(V).expand(n, V)
        return lp, ids, torch.full((n,), float("-inf"))
    vals, ids = lp.topk(top_k, dim=-1)
    rest = lp.scatter(-1, ids, float("-inf")).logsumexp(-1)
    return vals, ids, rest


class _Out:
    """Result arrays filled batch by batch."""

    def __init__(self, n_seq: int, n_pos: int, s: Samples, V: int, d: int):
        k = V if s.top_k is None else min(s.top_k, V)
        self.logprob = np.full((n_seq, n_pos), np.nan, np.float32)
        self.entropy = np.full((n_seq, n_pos), np.nan, np.float32)
        self.dist_logp = np.full((len(s.seq), k), np.nan, np.float32)
        self.dist_ids = np.full((len(s.seq), k), -1, np.int32)
        self.dist_rest = np.full(len(s.seq), np.nan, np.float32)
        self.hidden = np.full((len(s.hlayers), len(s.hseq), d), np.nan, np.float16)

    def result(self) -> PassResult:
        return PassResult(self.logprob, self.entropy, self.dist_logp, self.dist_ids,
                          self.dist_rest, self.hidden)


class _Scratch:
    """Two reused (batch, positions, vocab) float32 buffers on the model's device: fresh
    multi-megabyte tensors per slice cost page faults (glibc returns them to the OS),
    about a third of the pass on CPU."""

    def __init__(self, n: int, device=None):
        self.a, self.b = torch.empty(n, device=device), torch.empty(n, device=device)

    def views(self, *shape: int) -> tuple[Tensor, Tensor]:
        n = int(np.prod(shape))
        return self.a[:n].view(*shape), self.b[:n].view(*shape)


def _log_probs(head, h: Tensor, scratch: _Scratch) -> tuple[Tensor, Tensor]:
    """(log-probs (B, t, V), free buffer of the same shape) for hidden states h (B, t, d)."""
    B, t, _ = h.shape
    logits, lp = scratch.views(B, t, head.weight.shape[0])
    if head.weight.dtype == torch.float32:
        torch.matmul(h, head.weight.t(), out=logits)
        if head.bias is not None:
            logits.add_(head.bias)
    else:  # half-precision models: logits in their dtype, log-softmax in float32
        logits.copy_(head(h))
    torch.log_softmax(logits, dim=-1, out=lp)
    return lp, logits


def _score_slices(head, h: Tensor, x: Tensor, b0: int, s: Samples, out: _Out,
                  scratch: _Scratch) -> None:
    """Log-probs, entropies and kept distributions of one batch, a slice of positions at a time."""
    B, T = x.shape
    width = max(1, LOGIT_BUDGET // (B * head.weight.shape[0]))
    in_batch = np.flatnonzero((s.seq >= b0) & (s.seq < b0 + B))
    for t0 in range(0, T - 1, width):
        t1 = min(T - 1, t0 + width)  # logits at t predict the token at t + 1
        lp, free = _log_probs(head, h[:, t0:t1], scratch)  # (B, t, V)
        target = x[:, t0 + 1:t1 + 1, None]
        out.logprob[b0:b0 + B, t0 + 1:t1 + 1] = lp.gather(-1, target)[..., 0].cpu().numpy()
        torch.exp(lp, out=free)  # entropy: -sum p log p, in place (the cheapest form on CPU)
        out.entropy[b0:b0 + B, t0 + 1:t1 + 1] = free.mul_(lp).sum(-1).neg_().cpu().numpy()
        pick = in_batch[(s.pos[in_batch] - 1 >= t0) & (s.pos[in_batch] - 1 < t1)]
        if len(pick):
            rows = lp[s.seq[pick] - b0, s.pos[pick] - 1 - t0].cpu()  # (n, V)
            logp, ids, rest = _keep_dist(rows, s.top_k)
            out.dist_logp[pick, : logp.shape[1]] = logp.numpy()
            out.dist_ids[pick, : ids.shape[1]] = ids.numpy()
            out.dist_rest[pick] = rest.numpy()


def _hidden_of_batch(model, body, x: Tensor, b0: int, s: Samples, out: _Out) -> Tensor:
    """Run the body on one batch, keeping the residual stream at this batch's hidden samples."""
    hs = np.flatnonzero((s.hseq >= b0) & (s.hseq < b0 + len(x)))
    rows = torch.from_numpy(s.hseq[hs] - b0).to(x.device)
    cols = torch.from_numpy(s.hpos[hs]).to(x.device)
    n_layers = model.config.num_hidden_layers
    layers = [la for la in s.hlayers if la <= n_layers] if len(hs) else []
    with arch.residual_taps(model, layers, lambda r: r[rows, cols]) as taps:
        h = body(x).last_hidden_state  # (B, T, d), after the final norm
    for layer, v in taps.items():
        out.hidden[s.hlayers.index(layer), hs, : v.shape[-1]] = v.float().cpu().numpy()
    return h


def main_pass(model, tokens: np.ndarray, s: Samples, *, batch_size: int,
              label: str = "measure") -> PassResult:
    """Run the evaluation tokens (seq, pos) through ``model`` in batches of ``batch_size``."""
    body, head = arch.logits_head(model)
    n_seq, n_pos = tokens.shape
    V = head.weight.shape[0]
    out = _Out(n_seq, n_pos, s, V, model.config.hidden_size)
    batch = min(batch_size, n_seq)
    dev = head.weight.device
    scratch = _Scratch(min(batch * n_pos * V, max(LOGIT_BUDGET, batch * V)), dev)  # _score_slices
    with torch.inference_mode(), bar(label, total=-(-n_seq // batch_size)) as pb:
        for b0 in range(0, n_seq, batch_size):
            x = torch.from_numpy(tokens[b0:b0 + batch_size]).long().to(dev)
            h = _hidden_of_batch(model, body, x, b0, s, out)
            _score_slices(head, h, x, b0, s, out, scratch)
            pb.advance()
    return out.result()
