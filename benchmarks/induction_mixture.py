"""Induction heads from copy documents over dedicated symbol tokens mixed into world text (issue 13).

    python benchmarks/induction_mixture.py --frac 0.3 --seed 0 --steps 3000   # recipe sizing
    python benchmarks/induction_mixture.py --context 128 --batch 8 --heads 4 --frac 0.3 --steps 6000
    python benchmarks/induction_mixture.py --pure --steps 3000                # control: no world text

The question behind issue 13's "mix in copy-rich documents rather than replacing
the data": does a 2-layer model form Olsson et al.'s induction heads when copy
documents are a share of world-language training? A bare Hugging Face loop
(pathdep only writes the demo world's data), as benchmarks/induction_vocab.py:
GPT-NeoX, 2 layers, d_model 64, rotary on every head dim, parallel residual,
AdamW lr 3e-3 (betas 0.9/0.95, no weight decay), gradient clip 1, one thread.
Changed:

- vocabulary 576: ids 0..511 the demo world's BPE (id 0 = <|endoftext|>), ids
  512..575 64 dedicated symbols that occur only in copy documents (in
  BENCHMARKS.md's earlier mixtures the symbols were world tokens, which world
  text also continues, and no head formed);
- each batch row is, with probability ``--frac``, a cycle document (token 0, then
  k distinct random symbols, k uniform in 16..26, written over and over: the
  ``cycle`` layout of pathdep.data.repeat_copy), else a random window of the demo
  world's token stream (examples/demo.toml's data stage, written to a temporary
  folder unless ``--data`` names its ``train.npz``);
- every ``--every`` steps: the best layer-1 head's prefix matching (attention from
  the second copy to the token after the earlier copy; perfect = 1) and the
  second-copy loss on 16 rows of 24 random symbols written twice, over the
  dedicated ids ("ded"), over world ids 1..511 ("world") and over the world ids
  that occur in the stream ("wseen"); the held-out world loss; the share of
  cycle rows so far. At the end, every head's attention to offsets -2..+3 of the
  target, with the copies 24 and 31 apart (a fixed-distance head fails at 31).

What it showed (BENCHMARKS.md, "Dedicated symbols in the world mixture"): no
head by step 1200 in any mixture; at the recipe's sizing (context 64, batch 32)
and --frac 0.3, true heads in 3 of 5 seeds at steps 1400-2400; at the demo's
sizing (context 128, batch 8) none in 6000 steps.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from induction_vocab import SPAN, print_heads, probe_scores  # the same probe and table
from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

V_WORLD, N_SYM = 512, 64
V = V_WORLD + N_SYM


def demo_world() -> str:
    """examples/demo.toml's training tokens, from pathdep's data stage (about 3 s)."""
    from pathdep.spec import load_spec
    from pathdep.train.prepare import prepare

    root = Path(__file__).resolve().parents[1]
    out = Path(tempfile.mkdtemp(prefix="induction-mixture-")) / "demo"
    prepare(load_spec(root / "examples" / "demo.toml"), out)
    return str(out / "data" / "train.npz")


def model(T: int, heads: int, seed: int, V: int = V) -> GPTNeoXForCausalLM:
    torch.manual_seed(seed)
    cfg = GPTNeoXConfig(vocab_size=V, hidden_size=64, num_hidden_layers=2,
                        num_attention_heads=heads, intermediate_size=256, max_position_embeddings=T,
                        rope_parameters={"rope_type": "default", "rope_theta": 10000.0,
                                         "partial_rotary_factor": 1.0},
                        attention_dropout=0.0, hidden_dropout=0.0, use_parallel_residual=True,
                        tie_word_embeddings=False, attn_implementation="eager")
    return GPTNeoXForCausalLM(cfg)


def probe_rows(g, syms, gap):
    a = g.choice(syms, (16, SPAN))
    return torch.from_numpy(np.concatenate(
        [np.zeros((16, 1), np.int64), a, g.choice(syms, (16, gap)), a], 1))


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--context", type=int, default=64)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--heads", type=int, default=2)
    ap.add_argument("--frac", type=float, default=0.5, help="share of rows that are cycle docs")
    ap.add_argument("--steps", type=int, default=1200)
    ap.add_argument("--every", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--pure", action="store_true", help="control: vocab 65, symbols 1..64, every "
                    "row a cycle doc (the working recipe; world probes then reuse the symbols)")
    ap.add_argument("--compact", action="store_true", help="extra: world ids renumbered so "
                    "that every world id occurs (vocab = occurring ids + 64)")
    ap.add_argument("--save", default=None, help="write the final state_dict here")
    ap.add_argument("--data", default=None, help="the demo world's train.npz; default: written by pathdep's data stage into a temporary folder")
    a = ap.parse_args(argv)
    torch.set_num_threads(1)
    T, B = a.context, a.batch
    world = np.load(a.data or demo_world())["ids"].astype(np.int64)
    assert world.max() < V_WORLD
    v_world = V_WORLD
    if a.compact:  # renumber the ids that occur to 0..n-1 (eos stays 0): no world id unused
        used = np.unique(world)
        world = np.searchsorted(used, world)
        v_world = len(used)
    n_held = 20000  # last tokens held out for the world loss
    train_w, held_w = world[:-n_held], world[-n_held:]
    dedicated = np.arange(v_world, v_world + N_SYM)
    world_syms = np.arange(1, v_world)
    seen_syms = np.setdiff1d(np.unique(world), [0])
    vocab = v_world + N_SYM
    if a.pure:
        vocab, a.frac = N_SYM + 1, 1.0
        dedicated = world_syms = seen_syms = np.arange(1, N_SYM + 1)
    rng = np.random.default_rng(a.seed + 100)
    g = np.random.default_rng(7)
    probes = {"ded": probe_rows(g, dedicated, 0), "world": probe_rows(g, world_syms, 0),
              "wseen": probe_rows(g, seen_syms, 0)}
    moved = {"ded": probe_rows(g, dedicated, 7), "world": probe_rows(g, world_syms, 7)}
    gh = np.random.default_rng(8)
    held = torch.from_numpy(np.stack([held_w[s:s + T] for s in gh.integers(0, len(held_w) - T, 16)]))
    if a.pure:  # no world text: "wloss" is then the loss on the whole dedicated probe
        held = probes["ded"]

    def cycle_row():
        k = rng.integers(16, 27)
        c = rng.choice(dedicated, k, replace=False)
        return np.concatenate([[0], c[np.arange(T - 1) % k]])

    def batch():
        out, n_cyc = [], 0
        for _ in range(B):
            if rng.random() < a.frac:
                out.append(cycle_row())
                n_cyc += 1
            else:
                s = rng.integers(0, len(train_w) - T)
                out.append(train_w[s:s + T])
        return torch.from_numpy(np.stack(out)), n_cyc

    m = model(T, a.heads, a.seed, vocab)
    opt = torch.optim.AdamW(m.parameters(), lr=3e-3, betas=(0.9, 0.95), weight_decay=0.0)
    if a.pure:
        print("# PURE control: vocab 65, every row a cycle doc over ids 1..64; world probes = same ids")
    print(f"# vocab {vocab}, dedicated ids {dedicated[0]}..{dedicated[-1]}, compact {a.compact}")
    print(f"# context {T} batch {B} heads {a.heads} frac {a.frac} seed {a.seed}; world stream "
          f"{len(world)} tokens, {len(seen_syms)} distinct non-eos ids", flush=True)
    print("# step  pm_ded/copyloss_ded  pm_world/copyloss_world  pm_wseen/copyloss_wseen  "
          "world_heldout_loss  cyc_rows_share  wall_s", flush=True)
    t0, ncyc, nrows = time.time(), 0, 0
    for step in range(a.steps + 1):
        if step % a.every == 0 or step == a.steps:
            m.eval()
            r = {k: probe_scores(m, p)[:2] for k, p in probes.items()}
            with torch.no_grad():
                wl = float(m(held, labels=held).loss)
            m.train()
            print(f"step {step:5d}  ded {r['ded'][0]:.2f}/{r['ded'][1]:.2f}  "
                  f"world {r['world'][0]:.2f}/{r['world'][1]:.2f}  "
                  f"wseen {r['wseen'][0]:.2f}/{r['wseen'][1]:.2f}  wloss {wl:.2f}  "
                  f"cyc {ncyc / max(nrows, 1):.2f}  {time.time() - t0:.0f}s", flush=True)
        if step == a.steps:
            break
        x, n = batch()
        ncyc, nrows = ncyc + n, nrows + B
        out = m(x, labels=x)
        opt.zero_grad()
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()
    print(f"# done {time.time() - t0:.0f} s", flush=True)
    if a.save:
        torch.save(m.state_dict(), a.save)
    m.eval()
    for name in ("ded", "world"):
        for gap, p in ((0, probes[name]), (7, moved[name])):
            print_heads(m, p, gap, lead=f"# {name} ")


if __name__ == "__main__":
    main()
