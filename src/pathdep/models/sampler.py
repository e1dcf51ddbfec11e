"""Batched sampling from a causal LM: next-token probabilities and continuations.

One decoding loop (:func:`decode`) serves the prompt analyses (:func:`sample`:
rows of one length) and RL fine-tuning (:func:`sample_padded`: left-padded
prompts with an attention mask). It works with any module whose
``forward(input_ids=...)`` returns ``.logits`` (B, T, V); where the model also
returns ``past_key_values`` (Hugging Face models), continuations reuse the KV
cache, else the prefix is recomputed. Sampling draws from a seeded
``torch.Generator``, so a rerun is identical. Models with learned absolute
positions (GPT-2) cannot go past their last position
(:func:`~pathdep.models.arch.position_limit`): a continuation that would is
refused before any forward pass, naming the lengths and the limit.
"""

from __future__ import annotations

import warnings

import torch

from pathdep.errors import PathdepError
from pathdep.models.arch import position_limit


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


def left_pad(rows: list[list[int]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids, attention mask) of ``rows`` padded on the left with ``pad`` to one length."""
    n = max(map(len, rows))
    ids = torch.full((len(rows), n), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), n), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, n - len(r):] = torch.tensor(r)
        mask[i, n - len(r):] = 1
    return ids, mask


def positions(mask: torch.Tensor) -> torch.Tensor:
    """Position ids of left-padded rows: 0 at each row's first real token."""
    return (mask.cumsum(-1) - 1).clamp(min=0)


def check_positions(model, prompt_len: int, max_new: int) -> None:
    """Refuse a continuation past the model's position limit (GPT-2's n_positions).

    The last token drawn is predicted at position ``prompt_len + max_new - 2``
    (0-based), so ``prompt_len + max_new - 1`` positions are fed at most.
    """
    limit = position_limit(model)
    if limit is None or max_new <= 0 or prompt_len + max_new - 1 <= limit:
        return
    raise PathdepError(
        f"cannot sample {max_new} tokens after a prompt of {prompt_len}: the model "
        f"({model.config.model_type}, learned absolute positions) takes at most {limit} "
        f"positions and this needs {prompt_len + max_new - 1}; shorten the prompt or ask for at "
        f"most {max(limit - prompt_len + 1, 0)} new tokens")


def _draw(logits: torch.Tensor, temperature: float, gen: torch.Generator) -> torch.Tensor:
    """One token per row of ``logits`` (B, V): argmax at temperature 0, else a sample."""
    if temperature <= 0:
        return logits.argmax(-1)
    probs = torch.softmax(logits.float() / temperature, dim=-1).cpu()
    return torch.multinomial(probs, 1, generator=gen)[:, 0].to(logits.device)


@torch.no_grad()
def decode(model, ids: torch.Tensor, max_new: int, *, generator: torch.Generator,
           temperature: float = 1.0, eos_id: int | None = None, fill_id: int | None = None,
           attention_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Continue every row of ``ids`` (B, T) by at most ``max_new`` tokens, one forward per token.

    Returns (gen, gen_mask), both (B, n) with n <= ``max_new`` (fewer when every
    row has ended): the drawn tokens, and 1 where a row was still alive when
    its token was drawn (its ``eos_id`` included). A row's tokens after its
    ``eos_id`` are ``fill_id`` (default ``eos_id``). With ``attention_mask``
    (left-padded rows) the model gets the mask and position ids too.
    """
    fill = eos_id if fill_id is None else fill_id
    check_positions(model, ids.shape[1] if attention_mask is None
                    else int(attention_mask.sum(-1).max()), max_new)
    if attention_mask is None:
        res = model(input_ids=ids, use_cache=True)
    else:
        mask = attention_mask
        pos = positions(mask)
        last = pos[:, -1]
        res = model(input_ids=ids, attention_mask=mask, position_ids=pos, use_cache=True)
    past = getattr(res, "past_key_values", None)
    alive = torch.ones(ids.shape[0], dtype=torch.bool, device=ids.device)
    gen: list[torch.Tensor] = []
    gmask: list[torch.Tensor] = []
    for i in range(max_new):
        nxt = _draw(res.logits[:, -1], temperature, generator)
        if eos_id is not None:
            nxt = torch.where(alive, nxt, torch.full_like(nxt, fill))
        gen.append(nxt)
        gmask.append(alive.long())
        if eos_id is not None:
            alive = alive & (nxt != eos_id)
        if i == max_new - 1 or not bool(alive.any()):
            break
        if attention_mask is not None:
            mask = torch.cat([mask, gmask[-1][:, None]], 1)
            last = last + 1
            res = _cached_step(model, input_ids=nxt[:, None], attention_mask=mask,
                               position_ids=last[:, None], past_key_values=past, use_cache=True)
            past = res.past_key_values
        elif past is not None:
            res = _cached_step(model, input_ids=nxt[:, None], past_key_values=past, use_cache=True)
            past = res.past_key_values
        else:
            res = model(input_ids=torch.cat([ids, torch.stack(gen, 1)], dim=1))
    if not gen:
        empty = torch.empty((ids.shape[0], 0), dtype=torch.long, device=ids.device)
        return empty, empty
    return torch.stack(gen, 1), torch.stack(gmask, 1)


@torch.no_grad()
def sample(model, prefixes: torch.Tensor, max_new: int, *, temperature: float = 1.0,
           seed: int = 0, eos_id: int | None = None) -> torch.Tensor:
    """Continue every row of ``prefixes`` (B, T) by ``max_new`` tokens: (B, max_new) on CPU.

    All rows share one forward per new token (KV cache where the model gives
    one). Tokens after a row's ``eos_id`` are set to ``eos_id``.
    """
    gen = torch.Generator().manual_seed(seed)
    x = prefixes.to(model_device(model))
    if max_new <= 0:
        return torch.empty((x.shape[0], 0), dtype=torch.long)
    out, _ = decode(model, x, max_new, generator=gen, temperature=temperature, eos_id=eos_id)
    if out.shape[1] < max_new:  # every row ended early
        pad = torch.full((x.shape[0], max_new - out.shape[1]), eos_id, device=x.device)
        out = torch.cat([out, pad], dim=1)
    return out.cpu()


@torch.no_grad()
def sample_padded(model, prompts: list[list[int]], *, pad_id: int, eos_id: int,
                  max_new_tokens: int, temperature: float, generator: torch.Generator
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Sample continuations of prompts of any lengths, left-padded with ``pad_id``.

    Returns (ids, mask, gen): the prompt + generated ids, their attention mask
    (generated tokens after EOS are masked, and are ``pad_id``), and the
    generated part alone.
    """
    ids, mask = (t.to(model_device(model)) for t in left_pad(prompts, pad_id))
    g, gmask = decode(model, ids, max_new_tokens, generator=generator, temperature=temperature,
                      eos_id=eos_id, fill_id=pad_id, attention_mask=mask)
    return torch.cat([ids, g], 1), torch.cat([mask, gmask], 1), g


def _cached_step(model, **inputs):
    """One forward step on the KV cache, without transformers' notice that ``past_key_values``
    goes away in 5.40 (pyproject pins transformers below 5.40; the library stays quiet)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*past_key_values.*", category=FutureWarning)
        return model(**inputs)
