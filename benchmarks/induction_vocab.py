"""Which circuit a tiny model learns for in-context copying, against how many tokens it never copies.

    python benchmarks/induction_vocab.py --vocab 65 --symbols 64 --seed 0     # standard heads
    python benchmarks/induction_vocab.py --vocab 65 --symbols 32 --seed 0     # copies otherwise

A bare Hugging Face loop (no pathdep code), issue 13's recipe: a 2-layer GPT-NeoX
(d_model 64, 2 heads of 32 dims, rotary on every head dim, parallel residual),
AdamW lr 3e-3 (betas 0.9/0.95, no weight decay), batch 32 of 64-token rows, one
thread. Each row is a start token and 63 symbols drawn uniformly from ``--symbols``
of the ``--vocab`` token ids, whose first 24 are written again at an offset of
24-39 (the `repeat-copy` generator's layout). Every 100 steps it prints, on 16
rows of two copies of 24 random symbols (Olsson et al. 2022's repeated random
tokens), the best layer-1 head's attention from the second copy to the token after
the earlier copy (prefix matching; perfect = 1) and the loss on the second copy;
at the end, every head's attention from the second copy to offsets -2..+3 of
that target (-1 is the earlier copy of the current token itself).

What it showed (BENCHMARKS.md, "Unused tokens change the circuit"): with every
token a symbol, layer-1 heads prefix-match at 0.75 from step 500; with half the
ids never used, the model still learns to copy (second-copy loss 0.7 nats by
step 800) but no head prefix-matches: layer-0 heads attend the earlier copy of
the current token instead.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

T, B, SPAN = 64, 32, 24


def rows(rng: np.random.Generator, syms: np.ndarray, n: int) -> torch.Tensor:
    """``n`` rows: token 0, then 63 symbols whose first SPAN are repeated at offset 24-39."""
    out = np.zeros((n, T), np.int64)
    for r in range(n):
        x = rng.choice(syms, T - 1)
        p = rng.integers(SPAN, T - 1 - SPAN + 1)
        x[p:p + SPAN] = x[:SPAN]
        out[r, 1:] = x
    return torch.from_numpy(out)


def model(vocab: int, heads: int, seed: int, rotary: float = 1.0) -> GPTNeoXForCausalLM:
    torch.manual_seed(seed)
    cfg = GPTNeoXConfig(vocab_size=vocab, hidden_size=64, num_hidden_layers=2,
                        num_attention_heads=heads, intermediate_size=256, max_position_embeddings=T,
                        rope_parameters={"rope_type": "default", "rope_theta": 10000.0,
                                         "partial_rotary_factor": rotary},
                        attention_dropout=0.0, hidden_dropout=0.0, use_parallel_residual=True,
                        tie_word_embeddings=False, attn_implementation="eager")
    return GPTNeoXForCausalLM(cfg)


def probe_rows(g: np.random.Generator, syms: np.ndarray, gap: int) -> torch.Tensor:
    """16 rows: token 0, SPAN random symbols, ``gap`` other random symbols, the SPAN again.
    With gap 0 (Olsson et al.'s repeated random tokens) the copy is SPAN back; another gap
    moves it, so a head that attends a fixed distance back stops scoring."""
    a = g.choice(syms, (16, SPAN))
    return torch.from_numpy(np.concatenate(
        [np.zeros((16, 1), np.int64), a, g.choice(syms, (16, gap)), a], 1))


def probe_scores(m, probe: torch.Tensor, gap: int = 0) -> tuple[float, float, list]:
    """(best layer-1 prefix-matching score, second-copy loss, per-head offset table)."""
    with torch.no_grad():
        o = m(probe, output_attentions=True)
        lp = o.logits.log_softmax(-1)
        nll = -lp[:, :-1].gather(-1, probe[:, 1:, None])[..., 0][:, SPAN + gap + 1:]
    # queries in the second copy whose targets at offsets -2..+3 all lie in the first copy
    q = np.arange(SPAN + gap + 3, 2 * SPAN + gap - 3)
    d0 = SPAN + gap - 1  # the query's distance back to the token after its earlier copy
    table = []
    for layer, a in enumerate(o.attentions):
        for h in range(a.shape[1]):
            offs = {d: float(a[:, h, q, q - d0 + d].mean()) for d in range(-2, 4)}
            table.append((layer, h, offs))
    best = max(offs[0] for layer, _, offs in table if layer == len(o.attentions) - 1)
    return best, float(nll.mean()), table


def print_heads(m, rows_: torch.Tensor, gap: int, lead: str = "") -> None:
    """The best layer-1 prefix matching, the second-copy loss and every head's offset table."""
    best, loss, table = probe_scores(m, rows_, gap)
    print(f"{lead}copies {SPAN + gap} apart: best layer-1 prefix matching {best:.2f}, "
          f"second-copy loss {loss:.2f}")
    for layer, h, offs in table:
        print(f"{lead}  layer {layer} head {h}: attention to target offset " +
              " ".join(f"{d:+d}:{v:.2f}" for d, v in offs.items()))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--vocab", type=int, default=65)
    ap.add_argument("--symbols", type=int, default=64, help="token ids that occur (from the top)")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--every", type=int, default=100)
    ap.add_argument("--heads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rotary", type=float, default=1.0, help="share of head dims with rotary")
    ap.add_argument("--gap", type=int, default=7, help="random symbols between the copies of "
                    "the second probe, printed at the end")
    a = ap.parse_args(argv)
    if not 2 <= a.symbols < a.vocab:
        ap.error("--symbols must be at least 2 and below --vocab (token 0 starts each row)")
    torch.set_num_threads(1)
    syms = np.arange(a.vocab - a.symbols, a.vocab)
    rng = np.random.default_rng(a.seed + 100)
    g = np.random.default_rng(7)
    probe = probe_rows(g, syms, 0)
    moved = probe_rows(g, syms, a.gap)
    m = model(a.vocab, a.heads, a.seed, a.rotary)
    opt = torch.optim.AdamW(m.parameters(), lr=3e-3, betas=(0.9, 0.95), weight_decay=0.0)
    t0, line = time.time(), []
    for step in range(a.steps + 1):
        if step % a.every == 0 or step == a.steps:
            m.eval()
            best, loss, table = probe_scores(m, probe)
            line.append(f"{step}:{best:.2f}/{loss:.2f}")
            m.train()
        if step == a.steps:
            break
        x = rows(rng, syms, B)
        out = m(x, labels=x)
        opt.zero_grad()
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()
    print(f"vocab {a.vocab}, symbols {a.symbols}, rotary {a.rotary:g}, seed {a.seed}: "
          f"{time.time() - t0:.0f} s")
    print("step:prefix-matching/second-copy loss  " + " ".join(line))
    for gap, rows_ in ((0, probe), (a.gap, moved)):
        m.eval()
        print_heads(m, rows_, gap)


if __name__ == "__main__":
    main()
