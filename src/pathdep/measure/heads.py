"""Attention-head scores per (layer, head): Olsson et al. 2022 and TransformerLens.

Source: shared/reference/methods.md §1 (Olsson et al., "In-context Learning and
Induction Heads", 2022, head activation evaluators; TransformerLens
``head_detector.py``).

- ``previous_token``: on evaluation text, the mean attention on the i -> i-1
  off-diagonal (rows i >= 1).
- ``duplicate_token`` and ``induction`` (prefix matching): on BOS + n random
  tokens repeated 4 times (plan.py), the mean attention weight from each token
  to the earlier positions holding the same token (duplicate) or to the tokens
  that *followed* earlier copies of it (induction: the duplicate pattern shifted
  right by one), over the query positions that have an earlier copy:
  ``(A * P).sum() / (A * R).sum()`` with R the rows of P holding any 1. That is
  methods.md §1's reading of Olsson et al. ("the mean attention weight from each
  token to the tokens that followed earlier copies"): a token of the first
  repeat has no earlier copy, so it is not a query. TransformerLens' "mul" score
  ``(A * P).sum() / A.sum()`` also counts the first repeat and BOS, so a perfect
  head there peaks at 0.75 with 4 repeats; here it scores 1, and uniform causal
  attention scores about 0.03 on 4 x 25 tokens (docs/circuits.md).
- ``copying``: on the n random tokens without BOS, each head's OV circuit on
  the direct path to the logits, as if the head attended fully to position j:
  logits = W_U (gamma_f * centre(W_O W_V ln(x_j))), the final LayerNorm
  linearised (its scale only rescales, which the ratio ignores). Subtract the
  mean logit over the vocabulary, ReLU, and take q_j = raise of token_j / sum
  of raises over the sample's distinct tokens (0 if nothing is raised); the
  score is 2 * mean_j(q_j) - 1 in [-1, 1]. methods.md gives the ratio's range
  as [0, 0.5]; with this reading it is [0, 1], so the rescaling is 2q - 1
  (a head raising its attended token more than the rest of the sample
  together scores > 0). GPT-NeoX and GPT-2 only (arch.py); NaN otherwise.
- ``ov_eigen``: Olsson et al.'s mathematical check of copying (methods.md §1,
  "copying tracks the OV eigenvalues, Σλ/Σ|λ|"): the eigenvalues λ of each
  head's full OV circuit on the direct path, W_U (gamma_f * centre(W_O W_V
  ln(W_E))), restricted to the sample's distinct tokens, as
  real(Σλ) / Σ|λ| in [-1, 1]: positive when the head raises the tokens it
  attends to, about 0 for a random head, negative for an anti-copying head.
  The nonzero eigenvalues of that (tokens x tokens) matrix are those of a
  (head dim x head dim) product, so it is cheap at any vocabulary size.
  Unlike ``copying``, it does not ask the attended token to out-raise all the
  sample's other tokens together, which a head of fewer dimensions than the
  sample's tokens cannot do (docs/circuits.md; BENCHMARKS.md, issue 13).

Patterns come from an eager-attention pass on these few short sequences only;
the main log-prob pass keeps the fast attention, and in a job it also gives the
previous-token patterns of the first ``head_examples`` evaluation sequences,
from their queries and keys (PrevToken), so that text is not run twice.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch
from torch import Tensor

from pathdep.models import arch
from pathdep.store.schema import KINDS

ATTN_BUDGET = 64 << 20  # floats of attention patterns held at once
PREV_CONTEXT = 256  # evaluation-text positions used for the previous-token score
OV_BUDGET = 16 << 20  # floats of per-head OV outputs held at once (copying score)


def detection_masks(tokens: Tensor) -> tuple[Tensor, Tensor]:
    """(duplicate, induction) patterns, each (B, T, T) float: [b, i, j] = 1 where i attends."""
    same = tokens[:, :, None] == tokens[:, None, :]  # (B, i, j)
    dup = torch.tril(same, diagonal=-1).float()
    ind = torch.zeros_like(dup)
    ind[:, :, 1:] = dup[:, :, :-1]  # attend to j where tokens[j-1] == tokens[i]
    return dup, ind


def attention_sums(model, tokens: Tensor, reduce) -> list[Tensor]:
    """Per layer, the sum over examples of ``reduce(attn (B, H, T, T), batch tokens)``."""
    n_layers = model.config.num_hidden_layers
    B, T = tokens.shape
    per_example = n_layers * model.config.num_attention_heads * T * T
    step = max(1, ATTN_BUDGET // per_example)
    sums: list[Tensor] = [0] * n_layers  # type: ignore[list-item]
    for b0 in range(0, B, step):
        x = tokens[b0:b0 + step]
        out = model.base_model(x, output_attentions=True, use_cache=False)
        for layer, a in enumerate(out.attentions):
            sums[layer] = sums[layer] + reduce(a.float(), x)
    return sums


class PrevToken:
    """The previous-token score's attention sums taken during the main pass (job.py), so the
    evaluation text is not run a second time: during the batches holding the first ``n``
    sequences, each block's attention queries and keys of their first PREV_CONTEXT positions
    are tapped (arch.query_key_taps) and the patterns of those positions alone computed from
    them, the i -> i-1 diagonal kept (causal attention there does not see the positions
    after them, so this equals the separate pass on the truncated text, to float32
    rounding). The main pass keeps its fast attention kernel, so its log-probs do not move.
    A model without sdpa attention runs those batches with eager attention instead, a hook
    on each block's attention keeping the same diagonal of its patterns. ``ok`` is False
    when some layer gave no pattern; head_scores then runs its own pass."""

    def __init__(self, model, n: int, n_pos: int):
        L, H = model.config.num_hidden_layers, model.config.num_attention_heads
        self.n, self.width = n, min(PREV_CONTEXT, n_pos)
        self.sums = torch.zeros(L, H, device=model.get_input_embeddings().weight.device)
        self.seen = [0] * L
        self.mods = arch.attention_modules(model)

    @classmethod
    def for_pass(cls, model, n: int, n_pos: int, batch: int) -> PrevToken | None:
        """None where the blocks' attention modules are not known (arch.attention_modules)
        or, without sdpa taps, the eager patterns of a batch would not fit ATTN_BUDGET."""
        H = model.config.num_attention_heads
        eager_fits = batch * H * n_pos * n_pos <= ATTN_BUDGET
        if n < 1 or not arch.attention_modules(model) or not (
                arch.taps_queries(model) or eager_fits):
            return None
        return cls(model, n, n_pos)

    @property
    def ok(self) -> bool:
        return all(k == self.n for k in self.seen)

    def scores(self) -> Tensor:
        """(L, H) previous-token scores, as head_scores computes them."""
        return self.sums / (self.n * (self.width - 1))

    def _add(self, layer: int, a: Tensor, k: int) -> None:
        """Patterns ``a`` (k, H, width, width) of ``k`` sequences of ``layer``."""
        self.sums[layer] += a.float().diagonal(offset=-1, dim1=-2, dim2=-1).sum(dim=(0, 2))
        self.seen[layer] += k

    def _from_queries(self, k: int):
        """arch.query_key_taps' ``keep``: the patterns of the first ``k`` sequences' first
        ``width`` positions, from their queries and keys (eager attention's formula)."""
        w = self.width

        def keep(layer, q, key, mask, scaling):
            q, key = q[:k, :, :w].float(), key[:k, :, :w].float()  # (k, H, w, dh)
            if key.shape[1] != q.shape[1]:  # grouped-query attention: a key head per group
                key = key.repeat_interleave(q.shape[1] // key.shape[1], dim=1)
            s = q @ key.transpose(-1, -2) * (q.shape[-1] ** -0.5 if scaling is None else scaling)
            allowed = torch.ones(w, w, dtype=torch.bool, device=s.device).tril()
            if mask is not None:  # the kernel's own mask: boolean (attend) or additive
                m = mask[:k, ..., :w, :w]
                if m.dtype == torch.bool:
                    allowed = allowed & m
                else:
                    s = s + m.float()
            self._add(layer, torch.softmax(s.masked_fill(~allowed, float("-inf")), -1), k)
        return keep

    def _eager_hooks(self, model, k: int, stack: contextlib.ExitStack) -> None:
        def keep(layer):
            def hook(_mod, _args, output):
                w = output[1] if isinstance(output, tuple) and len(output) > 1 else None
                if w is not None:  # (B, H, T, T)
                    self._add(layer, w[:k, :, : self.width, : self.width], k)
            return hook

        for i, m in enumerate(self.mods):
            stack.callback(m.register_forward_hook(keep(i)).remove)
        stack.enter_context(arch.eager_attention(model))

    @contextlib.contextmanager
    def tap(self, model, b0: int, B: int):
        """Around the forward of the batch of sequences [b0, b0 + B)."""
        k = max(0, min(B, self.n - b0))
        with contextlib.ExitStack() as stack:
            if k and not stack.enter_context(arch.query_key_taps(model, self._from_queries(k))):
                self._eager_hooks(model, k, stack)
            yield


def _prev(a: Tensor, _x) -> Tensor:
    return a.diagonal(offset=-1, dim1=-2, dim2=-1).sum(dim=(0, 2))  # (H,)


def _mul(a: Tensor, x: Tensor) -> Tensor:
    """(4, H): attention on the duplicate and induction patterns, and on their query rows."""
    dup, ind = detection_masks(x)
    sums = [(a * m[:, None]).sum(dim=(0, 2, 3)) for m in (dup, ind)]
    rows = [(a * m.amax(-1, keepdim=True)[:, None]).sum(dim=(0, 2, 3)) for m in (dup, ind)]
    return torch.stack([*sums, *rows])  # rows: query positions with an earlier copy


def copying_scores(model, tokens: Tensor) -> Tensor:
    """(L, H) copying scores on random tokens (B, n) without BOS; NaN if unsupported."""
    L, H = model.config.num_hidden_layers, model.config.num_attention_heads
    if not arch.has_ov(model):
        return torch.full((L, H), float("nan"))
    with arch.residual_taps(model, list(range(L)), lambda x: x) as resid:
        model.base_model(tokens)
    ln_f, W_U = arch.unembed(model)
    # Only the logits of the sample's tokens and the mean logit over the vocabulary are
    # needed: o @ W_U[sample].T and o @ mean(W_U), not all V logits (at GPT-2's 50,257
    # this was most of the job's time). Same numbers as the full (B, n, V) computation.
    ids, where = tokens.unique(return_inverse=True)  # where: (B, n) column of each token
    W_s, w_mean = W_U[ids].float(), W_U.float().mean(0)
    in_sample = torch.zeros(tokens.shape[0], len(ids), dtype=torch.bool, device=tokens.device)
    in_sample.scatter_(1, where, True)
    scores = torch.empty(L, H)
    for layer in range(L):
        ov = arch.ov_circuit(model, layer)
        x = ov.ln(resid[layer]).float()[:, None]  # (B, 1, n, d)
        for h0 in range(0, H, max(1, OV_BUDGET // x.numel())):  # heads at once: (B, h, n, d)
            h = slice(h0, h0 + max(1, OV_BUDGET // x.numel()))
            o = (x @ ov.W_V[h].float() + ov.b_V[h, None].float()) @ ov.W_O[h].float()
            o = (o - o.mean(-1, keepdim=True)) * ln_f.weight.float()
            raised = torch.relu(o @ W_s.T - (o @ w_mean)[..., None])  # (B, h, n, sample tokens)
            own = raised.gather(-1, where[:, None, :, None].expand(*raised.shape[:3], 1))[..., 0]
            total = (raised * in_sample[:, None, None, :]).sum(-1)
            q = torch.where(total > 0, own / total.clamp_min(1e-30), torch.zeros_like(own))
            scores[layer, h] = (2 * q.mean(dim=(0, 2)) - 1).cpu()
    return scores


def ov_eigen_scores(model, ids: Tensor) -> Tensor:
    """(L, H) real(Σλ)/Σ|λ| of each head's direct-path OV circuit on token ``ids``; NaN if
    unsupported."""
    L, H = model.config.num_hidden_layers, model.config.num_attention_heads
    if not arch.has_ov(model):
        return torch.full((L, H), float("nan"))
    ln_f, W_U = arch.unembed(model)
    W_E = model.get_input_embeddings().weight[ids]  # (k, d)
    U = W_U[ids].double() * ln_f.weight.double()  # (k, d): gamma_f folded into the reader
    scores = torch.empty(L, H)
    for layer in range(L):
        ov = arch.ov_circuit(model, layer)
        E = ov.ln(W_E).double()  # the layer's input LayerNorm on the token embeddings
        W_O = ov.W_O.double()  # (H, dh, d)
        B = (W_O - W_O.mean(-1, keepdim=True)) @ U.T  # (H, dh, k); centred as the final LN does
        lam = torch.linalg.eigvals(B @ E @ ov.W_V.double())  # (H, dh): eig(E W_V B) \ {0}
        total = lam.abs().sum(-1)
        scores[layer] = torch.where(total > 0, lam.real.sum(-1) / total.clamp_min(1e-300),
                                    torch.zeros_like(total)).cpu()
    return scores


def head_scores(model, text: np.ndarray, prefix: np.ndarray, prev: Tensor | None = None
                ) -> np.ndarray:
    """``head_score[layer, head, kind]`` (kinds as store.schema.KINDS) for one model.

    ``text``: evaluation sequences (previous-token score); ``prefix``: BOS + 4
    repeats of n random tokens (plan.py); ``prev``: the previous-token scores
    when the main pass took them (PrevToken), else they are computed here.
    """
    dev = model.get_input_embeddings().weight.device
    text_t = torch.as_tensor(text[:, :PREV_CONTEXT], dtype=torch.long, device=dev)
    prefix_t = torch.as_tensor(prefix, dtype=torch.long, device=dev)
    n = (prefix.shape[1] - 1) // 4
    with torch.inference_mode(), arch.eager_attention(model):
        if prev is None:
            prev = torch.stack(attention_sums(model, text_t, _prev))  # (L, H)
            prev = prev / (text_t.shape[0] * (text_t.shape[1] - 1))
        mul = torch.stack(attention_sums(model, prefix_t, _mul))  # (L, 4, H)
    with torch.inference_mode():
        copying = copying_scores(model, prefix_t[:, 1:1 + n])
        ov_eigen = ov_eigen_scores(model, prefix_t[:, 1:1 + n].unique())
    by_kind = {
        "previous_token": prev,
        "duplicate_token": mul[:, 0] / mul[:, 2],
        "induction": mul[:, 1] / mul[:, 3],
        "copying": copying,
        "ov_eigen": ov_eigen,
    }
    return torch.stack([by_kind[k].float().cpu() for k in KINDS], dim=-1).numpy().astype(np.float32)
