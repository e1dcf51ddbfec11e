"""Batched sampling from a causal LM: next-token probabilities and continuations.

Works with any module whose ``forward(input_ids=...)`` returns ``.logits``
(B, T, V); where the model also returns ``past_key_values`` (Hugging Face
models), continuations reuse the KV cache, else the prefix is recomputed.
Sampling draws from a seeded ``torch.Generator``, so a rerun is identical.
"""

from __future__ import annotations

import torch


def model_device(model) -> torch.device:
    try:
        return next(model.parameters()).device
    except (StopIteration, AttributeError):
        return torch.device("cpu")


@torch.no_grad()
def position_probs(model, ids: list[int]) -> torch.Tensor:
    """p(x_{j+1} | x_{≤j}) for every position j of ``ids``: (T, V) float32 on CPU."""
    x = torch.tensor([ids], device=model_device(model))
    logits = model(input_ids=x).logits[0].float()  # (T, V)
    return torch.softmax(logits, dim=-1).cpu()


def _draw(logits: torch.Tensor, temperature: float, gen: torch.Generator) -> torch.Tensor:
    """One token per row of ``logits`` (B, V): argmax at temperature 0, else a sample."""
    if temperature <= 0:
        return logits.argmax(-1)
    probs = torch.softmax(logits.float() / temperature, dim=-1).cpu()
    return torch.multinomial(probs, 1, generator=gen)[:, 0].to(logits.device)


@torch.no_grad()
def sample(model, prefixes: torch.Tensor, max_new: int, *, temperature: float = 1.0,
           seed: int = 0, eos_id: int | None = None) -> torch.Tensor:
    """Continue every row of ``prefixes`` (B, T) by ``max_new`` tokens: (B, max_new).

    All rows share one forward per new token (KV cache where the model gives
    one). Tokens after a row's ``eos_id`` are set to ``eos_id``.
    """
    gen = torch.Generator().manual_seed(seed)
    x = prefixes.to(model_device(model))
    out = torch.empty((x.shape[0], 0), dtype=torch.long, device=x.device)
    if max_new <= 0:
        return out.cpu()
    done = torch.zeros(x.shape[0], dtype=torch.bool, device=x.device)
    res = model(input_ids=x, use_cache=True)
    past = getattr(res, "past_key_values", None)
    for i in range(max_new):
        nxt = _draw(res.logits[:, -1], temperature, gen)
        if eos_id is not None:
            nxt = torch.where(done, torch.full_like(nxt, eos_id), nxt)
            done |= nxt == eos_id
        out = torch.cat([out, nxt[:, None]], dim=1)
        if i == max_new - 1 or bool(done.all()):
            break
        if past is not None:
            res = model(input_ids=nxt[:, None], past_key_values=past, use_cache=True)
            past = res.past_key_values
        else:
            res = model(input_ids=torch.cat([x, out], dim=1))
    if out.shape[1] < max_new:  # every row ended early
        pad = torch.full((x.shape[0], max_new - out.shape[1]), eos_id, device=x.device)
        out = torch.cat([out, pad], dim=1)
    return out.cpu()
