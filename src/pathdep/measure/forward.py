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

import contextlib
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from pathdep.models import arch
from pathdep.progress import bar

LOGIT_BUDGET = 1 << 24  # logits (floats) held at once
SUB_ROWS = 0  # rows of a slice whose log-softmax and entropy are taken together; 0: all


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
    """Reused float32 buffers on the model's device: one slice of logits (``rows`` x V,
    overwritten by probabilities), and the log-probs of ``sub`` of its rows at a time. Fresh
    multi-megabyte tensors per slice cost page faults (glibc returns them to the OS),
    about a third of the pass on CPU. Groups of rows smaller than the slice (64 x 200
    kB at GPT-2's vocabulary, cache-sized) took 0.7x the CPU time single-threaded but
    lost with two threads on a busy machine, where many small parallel regions wait
    for each other (BENCHMARKS.md, issue 17), so ``SUB_ROWS`` is off by default."""

    def __init__(self, rows: int, V: int, device):
        self.rows, self.V = rows, V
        self.sub = min(rows, SUB_ROWS or rows)
        self.logits = torch.empty(rows * V, device=device)
        self.lp = torch.empty(self.sub * V, device=device)

    def view(self, buf: Tensor, n: int) -> Tensor:
        return buf[: n * self.V].view(n, self.V)


def _logits(head, h: Tensor, out: Tensor) -> Tensor:
    """Logits (n, V) of hidden states h (n, d) into ``out``, in float32 whatever the model."""
    if head.weight.dtype == torch.float32:
        torch.mm(h, head.weight.t(), out=out)  # contiguous 2-D rows: one GEMM, no copy
        if head.bias is not None:
            out.add_(head.bias)
    else:  # half-precision models: logits in their dtype, log-softmax in float32
        out.copy_(head(h))
    return out


def _score_slices(head, h: Tensor, x: Tensor, b0: int, s: Samples, out: _Out,
                  scratch: _Scratch) -> None:
    """Log-probs, entropies and kept distributions of one batch, a slice of rows at a time.

    Row ``r`` of the flattened (B * T, d) hidden states is (sequence r // T, position
    r % T) and predicts the token after it; a sequence's last position predicts
    nothing and is computed for nothing (1 row in T) so that slices are plain rows.
    """
    B, T = x.shape
    flat = h.reshape(B * T, h.shape[-1])  # (B*T, d)
    target = torch.zeros_like(x)
    target[:, :-1] = x[:, 1:]
    target = target.reshape(B * T, 1)
    lp_all = torch.empty(B * T, device=h.device)  # filled on the device, copied once
    ent_all = torch.empty(B * T, device=h.device)
    in_batch = np.flatnonzero((s.seq >= b0) & (s.seq < b0 + B))
    pick_rows = (s.seq[in_batch] - b0) * T + s.pos[in_batch] - 1
    for r0 in range(0, B * T, scratch.rows):
        r1 = min(B * T, r0 + scratch.rows)
        logits = _logits(head, flat[r0:r1], scratch.view(scratch.logits, r1 - r0))
        for q0 in range(r0, r1, scratch.sub):
            q1 = min(r1, q0 + scratch.sub)
            lp = scratch.view(scratch.lp, q1 - q0)
            torch.log_softmax(logits[q0 - r0:q1 - r0], dim=-1, out=lp)
            torch.gather(lp, -1, target[q0:q1], out=lp_all[q0:q1, None])
            p = torch.exp(lp, out=logits[q0 - r0:q1 - r0])  # those logits are spent
            torch.sum(p.mul_(lp), -1, out=ent_all[q0:q1])  # -entropy: sum p log p, in place
            here = (pick_rows >= q0) & (pick_rows < q1)
            if here.any():
                _keep_rows(lp[pick_rows[here] - q0].cpu(), in_batch[here], s.top_k, out)
    out.logprob[b0:b0 + B, 1:] = lp_all.view(B, T)[:, :-1].cpu().numpy()
    out.entropy[b0:b0 + B, 1:] = ent_all.neg_().view(B, T)[:, :-1].cpu().numpy()


def _keep_rows(rows: Tensor, pick: np.ndarray, top_k: int | None, out: _Out) -> None:
    """Store the kept distributions of log-prob ``rows`` (n, V) as samples ``pick``."""
    logp, ids, rest = _keep_dist(rows, top_k)
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
        h = body(x, use_cache=False).last_hidden_state  # (B, T, d), after the final norm
    for layer, v in taps.items():
        out.hidden[s.hlayers.index(layer), hs, : v.shape[-1]] = v.float().cpu().numpy()
    return h


def main_pass(model, tokens: np.ndarray, s: Samples, *, batch_size: int,
              label: str = "measure", prev=None) -> PassResult:
    """Run the evaluation tokens (seq, pos) through ``model`` in batches of ``batch_size``.

    ``prev`` (heads.PrevToken): also keep the previous-token attention of its sequences.
    """
    body, head = arch.logits_head(model)
    n_seq, n_pos = tokens.shape
    V = head.weight.shape[0]
    out = _Out(n_seq, n_pos, s, V, model.config.hidden_size)
    batch = min(batch_size, n_seq)
    dev = head.weight.device
    scratch = _Scratch(min(batch * n_pos, max(1, LOGIT_BUDGET // V)), V, dev)  # _score_slices
    with torch.inference_mode(), bar(label, total=-(-n_seq // batch_size)) as pb:
        for b0 in range(0, n_seq, batch_size):
            x = torch.from_numpy(tokens[b0:b0 + batch_size]).long().to(dev)
            with prev.tap(model, b0, len(x)) if prev is not None else contextlib.nullcontext():
                h = _hidden_of_batch(model, body, x, b0, s, out)
            _score_slices(head, h, x, b0, s, out, scratch)
            pb.advance()
    return out.result()
