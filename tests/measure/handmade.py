"""A 2-layer GPT-NeoX whose heads are set by hand (no training).

Residual stream (d_model 64): dims 0..15 hold the current token (one-hot
embedding, subspace E), dims 16..31 the previous token (subspace P, written by
the previous-token head). Two heads of 32 dims per layer; rotary on the first
16 dims of each head, dims 16..31 are position-free content dims. MLPs are off.

- L0H0 previous-token head: constant query/key from the biases on the rotary
  dims, the key rotated by one position, so q_i . k_j peaks at j = i - 1;
  its OV copies E into P.
- L0H1: all zero (uniform attention, no output).
- L1H0 induction head: query = current token (E), key = previous token (P),
  so position i attends to j where tokens[j-1] == tokens[i]; its OV copies E
  into E, which the unembedding reads: it predicts the token after the
  earlier copy (and is a copying head).
- L1H1 duplicate-token head: query = key = current token; no output.

``handmade_model(layers=1)`` is the one-layer control: L0H0 as above and the
induction head's wiring (query = current token, key = previous token, copying
OV) moved to L0H1. With no earlier layer to write P, its keys are all zero, so
it attends uniformly: K-composition needs two layers (Olsson et al. 2022).
"""

from __future__ import annotations

import torch
from transformers import GPTNeoXConfig, GPTNeoXForCausalLM
from transformers.models.gpt_neox.modeling_gpt_neox import apply_rotary_pos_emb

V, D, H, DH, ROT = 16, 64, 2, 32, 16
E, P = slice(0, 16), slice(16, 32)


def _head_rows(h: int, part: int) -> slice:
    """Rows of query_key_value.weight for head h, part 0/1/2 = q/k/v (GPT-NeoX layout)."""
    start = h * 3 * DH + part * DH
    return slice(start, start + DH)


def handmade_model(induction: bool = True, layers: int = 2) -> GPTNeoXForCausalLM:
    cfg = GPTNeoXConfig(vocab_size=V, hidden_size=D, num_hidden_layers=layers, num_attention_heads=H,
                        intermediate_size=4, max_position_embeddings=128,
                        rope_parameters={"rope_type": "default", "rope_theta": 10000.0,
                                         "partial_rotary_factor": ROT / DH},
                        bos_token_id=0, eos_token_id=0)
    model = GPTNeoXForCausalLM(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        for ln in [model.gpt_neox.final_layer_norm] + [
                m for b in model.gpt_neox.layers for m in (b.input_layernorm, b.post_attention_layernorm)]:
            ln.weight.fill_(1.0)
        model.gpt_neox.embed_in.weight[:, E] = torch.eye(V)
        model.lm_head.weight[:, E] = 3 * torch.eye(V)
        _previous_token_head(model)
        if layers == 2:
            _layer1_heads(model, induction)
        else:
            _induction_wiring(model.gpt_neox.layers[0].attention, head=1, copy=induction)
    return model


def _previous_token_head(model) -> None:
    attn = model.gpt_neox.layers[0].attention
    q = torch.zeros(1, 1, 1, DH)
    q[..., : ROT // 2] = 20.0  # constant query on the rotary dims
    cos, sin = model.gpt_neox.rotary_emb(q, torch.tensor([[1]]))
    k, _ = apply_rotary_pos_emb(q, q, cos, sin)  # key = query rotated by one position
    attn.query_key_value.bias[_head_rows(0, 0)] = q.flatten()
    attn.query_key_value.bias[_head_rows(0, 1)] = k.flatten()
    attn.query_key_value.weight[_head_rows(0, 2)][:16, E] = torch.eye(16)  # v = E
    attn.dense.weight[P, 0:16] = torch.eye(16) / 8  # out: P <- v


def _induction_wiring(attn, head: int, copy: bool) -> None:
    """q = current token (E), k = previous token (P), v = E; with ``copy`` the output E <- v."""
    w = attn.query_key_value.weight
    content = slice(ROT, DH)  # position-free head dims
    w[_head_rows(head, 0)][content, E] = 2 * torch.eye(16)  # q = current token
    w[_head_rows(head, 1)][content, P] = 2 * torch.eye(16)  # k = previous token
    w[_head_rows(head, 2)][:16, E] = torch.eye(16)  # v = E
    if copy:
        cols = slice(head * DH, head * DH + 16)
        attn.dense.weight[E, cols] = 2 * torch.eye(16)  # out: E <- v (copies the attended token)


def _layer1_heads(model, induction: bool) -> None:
    attn = model.gpt_neox.layers[1].attention
    _induction_wiring(attn, head=0, copy=induction)
    w = attn.query_key_value.weight
    content = slice(ROT, DH)
    w[_head_rows(1, 0)][content, E] = 2 * torch.eye(16)  # duplicate: q = current token
    w[_head_rows(1, 1)][content, E] = 2 * torch.eye(16)  #            k = its token


def repeated_random(n_examples: int, n: int, seed: int = 0, bos: bool = True) -> torch.Tensor:
    """BOS + x x x x with x = n distinct random tokens from 1..15 (Olsson's prefix matching)."""
    g = torch.Generator().manual_seed(seed)
    rows = []
    for _ in range(n_examples):
        x = torch.randperm(V - 1, generator=g)[:n] + 1
        rows.append(torch.cat([torch.zeros(1, dtype=torch.long), x.repeat(4)]) if bos else x.repeat(4))
    return torch.stack(rows)
