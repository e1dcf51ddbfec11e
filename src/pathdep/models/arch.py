"""What the measurements need to know about a model's architecture, in one place.

- :func:`blocks`: the transformer blocks (residual stream taps are their inputs/outputs);
- :func:`residual_taps`: hooks that keep a selection of the residual stream at
  layer 0 (input of block 0 = embeddings) and layer l (output of block l);
- :func:`query_key_taps`: each block's attention queries and keys, under the fast
  (sdpa) attention kernel, for patterns of a few positions without eager attention;
- :func:`logits_head`: the final hidden state -> logits map, applied in slices
  so no (batch, pos, vocab) tensor larger than a slice is ever held;
- :func:`ov_circuit` / :func:`unembed`: per-head value/output weights and the
  unembedding, for the copying score (direct path). Readers exist for GPT-NeoX
  (Pythia) and GPT-2; other architectures get NaN copying scores;
- :func:`position_limit`: the hard limit on positions of models with learned
  absolute position embeddings (GPT-2's ``n_positions``), None for rotary ones;
- :func:`fused_activations`: GPT-2's Python-composed GELU swapped for torch's
  fused kernel of the same formula, for measurement.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import NamedTuple

import torch
from torch import Tensor, nn


def blocks(model) -> nn.ModuleList:
    """The model's list of transformer blocks (the ModuleList with one entry per layer)."""
    n = model.config.num_hidden_layers
    for attr in ("gpt_neox.layers", "transformer.h", "model.layers", "model.decoder.layers"):
        mod = model
        for part in attr.split("."):
            mod = getattr(mod, part, None)
        if isinstance(mod, nn.ModuleList) and len(mod) == n:
            return mod
    for mod in model.modules():
        if isinstance(mod, nn.ModuleList) and len(mod) == n:
            return mod
    raise ValueError(f"cannot find the {n} transformer blocks of {type(model).__name__}")


@contextlib.contextmanager
def residual_taps(model, layers: list[int], select: Callable[[Tensor], Tensor]
                  ) -> Iterator[dict[int, Tensor]]:
    """Fill ``out[layer] = select(residual (B, T, d))`` during forward passes.

    Layer 0 is the input of block 0 (embeddings), layer l the output of block l.
    """
    out: dict[int, Tensor] = {}
    bl = blocks(model)
    handles = []

    def keep(layer):
        def hook(_mod, args, output=None):
            x = output if output is not None else args[0]
            x = x[0] if isinstance(x, tuple) else x  # (B, T, d)
            out[layer] = select(x)
        return hook

    for layer in layers:
        if layer == 0:
            handles.append(bl[0].register_forward_pre_hook(keep(0)))
        else:
            handles.append(bl[layer - 1].register_forward_hook(keep(layer)))
    try:
        yield out
    finally:
        for h in handles:
            h.remove()


ATTENTION_NAMES = ("attn", "attention", "self_attn")  # GPT-2, GPT-NeoX, Llama-style blocks


def attention_modules(model) -> list[nn.Module]:
    """Each block's attention module (whose output is (attn_output, weights, ...)); [] if
    some block has none of the known names."""
    mods = []
    for blk in blocks(model):
        mod = next((getattr(blk, n) for n in ATTENTION_NAMES
                    if isinstance(getattr(blk, n, None), nn.Module)), None)
        if mod is None:
            return []
        mods.append(mod)
    return mods


def logits_head(model) -> tuple[nn.Module, Callable[[Tensor], Tensor]]:
    """(body, head): ``body(input_ids).last_hidden_state`` then ``head(h)`` gives the logits."""
    head = model.get_output_embeddings()
    if head is None or getattr(model.config, "final_logit_softcapping", None):
        raise ValueError(f"{type(model).__name__}: logits are not lm_head(last hidden state)")
    return model.base_model, head


@contextlib.contextmanager
def eager_attention(model) -> Iterator[None]:
    """Switch to eager attention (which returns patterns) for the block, then back."""
    before = model.config._attn_implementation
    model.set_attn_implementation("eager")
    try:
        yield
    finally:
        model.set_attn_implementation(before)


_QK_TAPS: dict[int, Callable] = {}  # id(attention module) -> keep(query, key, mask, scaling)
_QK_LOCK = threading.Lock()


def _tapped_sdpa(sdpa: Callable) -> Callable:
    def attention(module, query, key, value, attention_mask, *args, **kwargs):
        keep = _QK_TAPS.get(id(module))
        if keep is not None:
            keep(query, key, attention_mask, kwargs.get("scaling"))
        return sdpa(module, query, key, value, attention_mask, *args, **kwargs)
    attention.pathdep_inner = sdpa
    return attention


def taps_queries(model) -> bool:
    """Whether :func:`query_key_taps` can tap ``model`` (sdpa attention, known blocks)."""
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS as FUNCS

    impl = getattr(model.config, "_attn_implementation", None)
    return impl == "sdpa" and "sdpa" in FUNCS and bool(attention_modules(model))


@contextlib.contextmanager
def query_key_taps(model, keep: Callable[[int, Tensor, Tensor, Tensor | None, float | None], None]
                   ) -> Iterator[bool]:
    """Around a forward of ``model``: ``keep(layer, query, key, mask, scaling)`` sees each
    block's (B, H, T, dh) attention queries and keys (after any rotary embedding), the
    kernel's mask and scale, while the sdpa kernel runs unchanged. Yields False, tapping
    nothing, where the model's attention is not sdpa dispatched through transformers'
    ``ALL_ATTENTION_FUNCTIONS`` (eager attention returns its patterns anyway)."""
    from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS as FUNCS

    if not taps_queries(model):
        yield False
        return
    mods = attention_modules(model)
    with _QK_LOCK:
        if not hasattr(FUNCS["sdpa"], "pathdep_inner"):
            FUNCS["sdpa"] = _tapped_sdpa(FUNCS["sdpa"])
        for layer, m in enumerate(mods):
            _QK_TAPS[id(m)] = lambda q, k, mask, sc, layer=layer: keep(layer, q, k, mask, sc)
    try:
        yield True
    finally:
        with _QK_LOCK:
            for m in mods:
                _QK_TAPS.pop(id(m), None)
            if not _QK_TAPS and hasattr(FUNCS["sdpa"], "pathdep_inner"):
                FUNCS["sdpa"] = FUNCS["sdpa"].pathdep_inner


class OV(NamedTuple):
    """One layer's per-head OV circuit: v = ln(x) @ W_V[h] + b_V[h]; out = v @ W_O[h]."""

    ln: nn.Module
    W_V: Tensor  # (H, d, dh)
    b_V: Tensor  # (H, dh)
    W_O: Tensor  # (H, dh, d)


def _neox_ov(model, layer: int) -> OV:
    blk = model.gpt_neox.layers[layer]
    H = model.config.num_attention_heads
    d = model.config.hidden_size
    dh = d // H
    w = blk.attention.query_key_value.weight.view(H, 3 * dh, d)  # rows per head: q, k, v
    b = blk.attention.query_key_value.bias
    b_v = b.view(H, 3 * dh)[:, 2 * dh:] if b is not None else torch.zeros(H, dh, device=w.device, dtype=w.dtype)
    W_O = blk.attention.dense.weight.view(d, H, dh).permute(1, 2, 0)  # (H, dh, d)
    return OV(blk.input_layernorm, w[:, 2 * dh:, :].transpose(1, 2), b_v, W_O)


def _gpt2_ov(model, layer: int) -> OV:
    blk = model.transformer.h[layer]
    H = model.config.n_head
    d = model.config.n_embd
    dh = d // H
    w = blk.attn.c_attn.weight[:, 2 * d:]  # Conv1D: (d, 3d), x @ w
    b = blk.attn.c_attn.bias[2 * d:]
    W_V = w.view(d, H, dh).permute(1, 0, 2)  # (H, d, dh)
    W_O = blk.attn.c_proj.weight.view(H, dh, d)  # Conv1D: (d_in = H*dh, d)
    return OV(blk.ln_1, W_V, b.view(H, dh), W_O)


_OV_READERS = {"gpt_neox": _neox_ov, "gpt2": _gpt2_ov}
_FINAL_LN = {"gpt_neox": "gpt_neox.final_layer_norm", "gpt2": "transformer.ln_f"}


def has_ov(model) -> bool:
    return model.config.model_type in _OV_READERS


def ov_circuit(model, layer: int) -> OV:
    return _OV_READERS[model.config.model_type](model, layer)


def unembed(model) -> tuple[nn.Module, Tensor]:
    """(final layer norm, W_U (V, d))."""
    ln = model
    for part in _FINAL_LN[model.config.model_type].split("."):
        ln = getattr(ln, part)
    return ln, model.get_output_embeddings().weight


# Model types whose positions are a learned table (an index past it is an error,
# not a graceful extrapolation): GPT-2 (``n_positions``), GPT-Neo, OPT, BigCode.
_LEARNED_POSITIONS = {"gpt2": "n_positions", "gpt_bigcode": "n_positions",
                      "gpt_neo": "max_position_embeddings", "opt": "max_position_embeddings"}


def position_limit(model) -> int | None:
    """How many positions ``model`` can take (learned absolute positions), or None (no hard limit).

    GPT-NeoX's rotary embeddings have no table to run past, so None; GPT-2's
    ``wpe`` has ``n_positions`` rows and position ``n_positions`` would index
    past it (an IndexError on CPU, a device-side assert on CUDA).
    """
    cfg = getattr(model, "config", None)
    key = _LEARNED_POSITIONS.get(getattr(cfg, "model_type", None))
    limit = getattr(cfg, key, None) if key else None
    return int(limit) if limit else None


class TanhGELU(nn.Module):
    """GELU's tanh approximation, 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) (Hendrycks and
    Gimpel 2016), in torch's fused kernel (``gelu(approximate="tanh")``): the formula of
    transformers' ``NewGELUActivation`` (GPT-2's ``activation_function = "gelu_new"``), which
    composes it from five tensor operations in Python. transformers ships the same swap as
    ``"gelu_pytorch_tanh"`` ("equivalent to NewGELU ... but much faster; not an exact
    numerical match due to rounding errors")."""

    def forward(self, x: Tensor) -> Tensor:
        return nn.functional.gelu(x, approximate="tanh")


def fused_activations(model) -> int:
    """Replace every ``NewGELUActivation`` of ``model`` by :class:`TanhGELU`, in place; the
    number replaced.

    Measurement only (measure/job.py): the composed GELU passes its (tokens x 3072)
    intermediates through memory five times; alone, the fused kernel is about 5x faster,
    and GPT-2 small's CPU forward 3-10 % faster with it (bare 7.95 -> 7.71 s at 16 x 512
    tokens, 34.4 -> 31.1 s at 64 x 512; BENCHMARKS.md). Same formula, float32 rounding apart: on
    N(0, 1) inputs the two differ by at most 4.8e-7, and each is within 3.7e-7 of the
    float64 value (tests/measure/test_gpt2_arch.py checks 1e-6 on 3·N(0, 1)). Training keeps the model's own module, so a
    run's bits do not depend on this."""
    try:
        from transformers.activations import NewGELUActivation
    except ImportError:  # pragma: no cover - every supported transformers has it
        return 0
    n = 0
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is NewGELUActivation:
                setattr(parent, name, TanhGELU())
                n += 1
    return n
