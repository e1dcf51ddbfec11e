"""Permutation alignment of two transformers before interpolating them (weight matching).

    from pathdep.lmc.align import align
    b_aligned, report = align(model_a, model_b)     # b's units permuted to match a's

Runs from different initialisations can only share a linearly connected basin
after their hidden units are put in correspondence: a network is unchanged by
permuting its units, so two solutions may be the same function in different
orders (Entezari et al., ICLR 2022; Ainsworth, Hayase & Srinivasa, "Git
Re-Basin", ICLR 2023). Both of Ainsworth et al.'s data-light methods are here:

- *activation matching* (their §3.1, the default): each permutation is the
  linear assignment that maximises the summed correlation of the two models'
  activations on the same evaluation tokens;
- *weight matching* (their Algorithm 1): the permutations that maximise
  Σ_w ⟨W_a, π(W_b)⟩ over all weights, by coordinate descent, one permutation at
  a time as a linear assignment problem (scipy's ``linear_sum_assignment``).

Measured on two init seeds of a 2-layer GPT-NeoX (d_model 128, 600 steps on
Markov data; tests/lmc/test_align.py): barrier 0.046 nats unaligned, 0.027 after
activation matching, 0.068 after weight matching (residual, heads and MLP units).

Permuted units, for GPT-NeoX and GPT-2 (Hugging Face layouts):

- the **residual stream** (one permutation of d_model shared by every layer:
  embeddings, position embeddings, every LayerNorm, every read and write of the
  residual, the unembedding); LayerNorm is equivariant to it, since its mean and
  variance do not depend on the order of the coordinates;
- the **MLP hidden units** of each block;
- the **attention heads** of each block, as whole units (a head's query, key,
  value and output slices move together; dimensions inside a head stay, since
  rotary embeddings rotate fixed pairs of them).

A permuted model computes exactly the same function (tests/lmc/test_align.py
checks the logits), so aligning a model with a permuted copy of itself recovers
the copy's weights and a zero barrier.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch

from pathdep.errors import PathdepError

log = logging.getLogger(__name__)

RES = "res"


@dataclass(frozen=True)
class Axis:
    """One axis of one weight, moved by permutation ``perm``: units of ``block`` indices
    each, in ``sections`` copies (GPT-2's c_attn holds q | k | v side by side)."""

    perm: str
    block: int = 1
    sections: int = 1

    def units(self, n_units: int) -> np.ndarray:
        """(n_units, sections * block) indices of each unit along the axis."""
        size = n_units * self.block
        return np.stack([np.concatenate([s * size + u * self.block + np.arange(self.block)
                                         for s in range(self.sections)]) for u in range(n_units)])

    def index(self, p: np.ndarray) -> np.ndarray:
        """The axis's index array once units are reordered by ``p`` (new unit i = old p[i])."""
        return self.units(len(p))[p].reshape(len(p), self.sections, self.block) \
            .transpose(1, 0, 2).reshape(-1)


def _neox_spec(cfg) -> dict[str, tuple]:
    H, d = cfg.num_attention_heads, cfg.hidden_size
    dh = d // H
    spec = {"gpt_neox.embed_in.weight": (None, Axis(RES)),
            "gpt_neox.final_layer_norm.weight": (Axis(RES),),
            "gpt_neox.final_layer_norm.bias": (Axis(RES),),
            "embed_out.weight": (None, Axis(RES)), "lm_head.weight": (None, Axis(RES))}
    for i in range(cfg.num_hidden_layers):
        p, head, mlp = f"gpt_neox.layers.{i}.", Axis(f"head{i}", 3 * dh), Axis(f"mlp{i}")
        for ln in ("input_layernorm", "post_attention_layernorm"):
            spec[p + ln + ".weight"] = spec[p + ln + ".bias"] = (Axis(RES),)
        spec[p + "attention.query_key_value.weight"] = (head, Axis(RES))
        spec[p + "attention.query_key_value.bias"] = (head,)
        spec[p + "attention.dense.weight"] = (Axis(RES), Axis(f"head{i}", dh))
        spec[p + "attention.dense.bias"] = (Axis(RES),)
        spec[p + "mlp.dense_h_to_4h.weight"] = (mlp, Axis(RES))
        spec[p + "mlp.dense_h_to_4h.bias"] = (mlp,)
        spec[p + "mlp.dense_4h_to_h.weight"] = (Axis(RES), mlp)
        spec[p + "mlp.dense_4h_to_h.bias"] = (Axis(RES),)
    return spec


def _gpt2_spec(cfg) -> dict[str, tuple]:
    H, d = cfg.n_head, cfg.n_embd
    dh = d // H
    spec = {"transformer.wte.weight": (None, Axis(RES)), "transformer.wpe.weight": (None, Axis(RES)),
            "transformer.ln_f.weight": (Axis(RES),), "transformer.ln_f.bias": (Axis(RES),),
            "lm_head.weight": (None, Axis(RES))}
    for i in range(cfg.n_layer):
        p, mlp = f"transformer.h.{i}.", Axis(f"mlp{i}")
        qkv = Axis(f"head{i}", dh, sections=3)  # Conv1D: (in, out), out = q | k | v
        for ln in ("ln_1", "ln_2"):
            spec[p + ln + ".weight"] = spec[p + ln + ".bias"] = (Axis(RES),)
        spec[p + "attn.c_attn.weight"] = (Axis(RES), qkv)
        spec[p + "attn.c_attn.bias"] = (qkv,)
        spec[p + "attn.c_proj.weight"] = (Axis(f"head{i}", dh), Axis(RES))
        spec[p + "attn.c_proj.bias"] = (Axis(RES),)
        spec[p + "mlp.c_fc.weight"] = (Axis(RES), mlp)
        spec[p + "mlp.c_fc.bias"] = (mlp,)
        spec[p + "mlp.c_proj.weight"] = (mlp, Axis(RES))
        spec[p + "mlp.c_proj.bias"] = (Axis(RES),)
    return spec


def permutation_spec(model) -> dict[str, tuple]:
    """Parameter name -> one :class:`Axis` (or None) per dimension, for the model's type."""
    kind = model.config.model_type
    if kind not in ("gpt_neox", "gpt2"):
        raise PathdepError(f"permutation alignment supports GPT-NeoX and GPT-2, not {kind!r}; "
                           "compare these runs without alignment (align = 'never')")
    spec = (_neox_spec if kind == "gpt_neox" else _gpt2_spec)(model.config)
    state = model.state_dict()
    spec = {k: v for k, v in spec.items() if k in state}  # embed_out or lm_head, by version
    uncovered = [k for k, v in state.items() if v.is_floating_point() and k not in spec
                 and not k.endswith(_BUFFERS)]
    if uncovered:  # a weight the permutation would not move: the function would change
        raise PathdepError(f"cannot align this {kind} model: no permutation rule for "
                           f"{uncovered[:3]}; compare without alignment (align = 'never')")
    return spec


_BUFFERS = ("inv_freq", "attn.bias", "attn.masked_bias", "original_inv_freq")


def _sizes(spec, state) -> dict[str, int]:
    sizes = {}
    for name, axes in spec.items():
        for dim, ax in enumerate(axes):
            if ax is not None:
                sizes[ax.perm] = state[name].shape[dim] // (ax.block * ax.sections)
    return sizes


def permute(state: dict, spec: dict, perms: dict[str, np.ndarray]) -> dict:
    """A copy of ``state`` with every axis reordered by its permutation."""
    out = dict(state)
    for name, axes in spec.items():
        w = state[name]
        for dim, ax in enumerate(axes):
            if ax is not None and ax.perm in perms:
                w = w.index_select(dim, torch.as_tensor(ax.index(perms[ax.perm])))
        out[name] = w
    return out


def _similarity(perm: str, n: int, sa, sb, spec, perms) -> np.ndarray:
    """(n, n) Σ over weights of ⟨unit i of a, unit j of b⟩, b's other axes permuted."""
    total = torch.zeros(n, n, dtype=torch.float64)
    for name, axes in spec.items():
        for dim, ax in enumerate(axes):
            if ax is None or ax.perm != perm:
                continue
            wb = sb[name]
            for d2, ax2 in enumerate(axes):
                if d2 != dim and ax2 is not None:
                    wb = wb.index_select(d2, torch.as_tensor(ax2.index(perms[ax2.perm])))
            units = torch.as_tensor(ax.units(n))
            fa = sa[name].movedim(dim, 0)[units.reshape(-1)].reshape(n, -1).double()
            fb = wb.movedim(dim, 0)[units.reshape(-1)].reshape(n, -1).double()
            total += fa @ fb.T
    return total.numpy()


def weight_matching(sa: dict, sb: dict, spec: dict, *, max_iter: int = 30,
                    seed: int = 0) -> dict[str, np.ndarray]:
    """Ainsworth et al.'s Algorithm 1: the permutations of b that best match a."""
    from scipy.optimize import linear_sum_assignment

    sizes = _sizes(spec, sa)
    perms = {p: np.arange(n) for p, n in sizes.items()}
    rng = np.random.default_rng(seed)
    for it in range(max_iter):
        improved = False
        for p in rng.permutation(sorted(sizes)):
            S = _similarity(p, sizes[p], sa, sb, spec, perms)
            _, best = linear_sum_assignment(S, maximize=True)
            old, new = S[np.arange(sizes[p]), perms[p]].sum(), S[np.arange(sizes[p]), best].sum()
            if new > old + 1e-12 * max(1.0, abs(old)):
                perms[p], improved = best, True
        if not improved:
            log.debug("weight matching converged after %d sweeps", it + 1)
            break
    return perms


def _modules(model):
    """Per block: (MLP activation module, attention output projection), for the hooks."""
    if model.config.model_type == "gpt_neox":
        return [(b.mlp.act, b.attention.dense) for b in model.gpt_neox.layers]
    return [(b.mlp.act, b.attn.c_proj) for b in model.transformer.h]


def activations(model, tokens: np.ndarray, batch_size: int = 16) -> dict[str, torch.Tensor]:
    """Per permutation: (samples, units, features) activations on ``tokens``: the residual
    stream at every layer boundary (samples of all layers pooled, one shared permutation),
    each block's MLP hidden units, and each block's heads (their outputs before the output
    projection, dh features a head)."""
    from pathdep.models import arch

    cfg = model.config
    L, H, d = cfg.num_hidden_layers, cfg.num_attention_heads, cfg.hidden_size
    got: dict[str, list] = {}

    def put(name, x, units):
        got.setdefault(name, []).append(x.detach().float().reshape(-1, units, x.shape[-1] // units))

    hooks = []
    for i, (act, proj) in enumerate(_modules(model)):
        hooks.append(act.register_forward_hook(
            lambda m, a, o, i=i: put(f"mlp{i}", o, o.shape[-1])))
        hooks.append(proj.register_forward_pre_hook(lambda m, a, i=i: put(f"head{i}", a[0], H)))
    x_all = torch.as_tensor(tokens, dtype=torch.long)
    try:
        for b0 in range(0, len(x_all), batch_size):
            with arch.residual_taps(model, list(range(L + 1)), lambda r: r) as taps, \
                    torch.no_grad():
                model(x_all[b0:b0 + batch_size])
            for t in taps.values():
                put(RES, t, d)
    finally:
        for h in hooks:
            h.remove()
    return {k: torch.cat(v) for k, v in got.items()}


def _correlation(fa: torch.Tensor, fb: torch.Tensor) -> np.ndarray:
    """(units, units) Σ over features of the Pearson correlation of unit i of a and j of b."""
    a, b = fa.double() - fa.double().mean(0), fb.double() - fb.double().mean(0)
    a, b = a / (a.std(0) + 1e-8), b / (b.std(0) + 1e-8)
    return (torch.einsum("nuf,nvf->uv", a, b) / a.shape[0]).numpy()


def activation_matching(model_a, model_b, tokens: np.ndarray) -> dict[str, np.ndarray]:
    """Ainsworth et al.'s activation matching (§3.1): each permutation by a linear
    assignment on the correlation of the two models' activations on the same tokens."""
    from scipy.optimize import linear_sum_assignment

    fa, fb = activations(model_a, tokens), activations(model_b, tokens)
    return {p: linear_sum_assignment(_correlation(fa[p], fb[p]), maximize=True)[1] for p in fa}


METHODS = ("activations", "weights")


def align(model_a, model_b, tokens: np.ndarray | None = None, *, method: str = "activations",
          seed: int = 0):
    """(a copy of ``model_b`` permuted to match ``model_a``, report of what moved).

    ``method``: ``"activations"`` (activation matching on ``tokens``, the default: on
    the small GPT-NeoX models of tests/lmc/test_align.py it lowers the barrier between
    two init seeds, where weight matching raises it) or ``"weights"`` (weight matching,
    no data needed).
    """
    import copy

    if method not in METHODS:
        raise PathdepError(f"unknown alignment method {method!r}; use one of {METHODS}")
    spec = permutation_spec(model_a)
    sa = {k: v.detach().float().cpu() for k, v in model_a.state_dict().items()}
    sb = {k: v.detach().float().cpu() for k, v in model_b.state_dict().items()}
    if any(sa[k].shape != sb[k].shape for k in spec):
        raise PathdepError("cannot align models of different shapes")
    if method == "weights":
        perms = weight_matching(sa, sb, spec, seed=seed)
    elif tokens is None:
        raise PathdepError("activation matching needs tokens to run both models on")
    else:
        perms = activation_matching(model_a, model_b, tokens)
    out = copy.deepcopy(model_b)
    state = permute(sb, spec, perms)
    out.load_state_dict({k: v.to(model_b.state_dict()[k].dtype) for k, v in state.items()},
                        strict=True)
    moved = {p: int((v != np.arange(len(v))).sum()) for p, v in perms.items()}
    return out.eval(), {"method": method, "units": {p: len(v) for p, v in perms.items()},
                        "moved": moved}
