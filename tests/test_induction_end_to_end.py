"""Known answer on real training: a tiny suite forms an induction head; a 1-layer run does not.

Issue 13's recipe through pathdep's own train / measure / analyze: documents of 31 random
tokens (64 three-letter syllables, one word-level token each) whose first 11 are written
again at a random offset, joined with end-of-text so each fills one 32-token context; a
2-layer GPT-NeoX with one 64-dim head per layer (rotary on all dims), lr 3e-3, batch 32.
Measured on this machine (Dec 2026): the layer-1 head's prefix-matching score rises
0.20 -> 0.43 between steps 400 and 500 and its copying score turns positive at step 600
(-0.05 -> 0.04), so it counts as formed (analysis/circuits.py) at steps 600-800 (0.45,
0.46, 0.43: a thin margin over 0.4); the 1-layer run stays at 0.11 or below. With 2 heads
per layer the heads formed too but shared the copying, each scoring copying < 0
(docs/circuits.md). Random words of the world language's copy documents (copy_prob), cut
by the BPE into several tokens and packed across contexts, formed nothing in 400 steps.
About 32 s on one thread.
"""

import random

import numpy as np

from pathdep.analysis import circuits
from pathdep.api import analyze, measure, open_store, train
from pathdep.spec import parse_spec

N_TOKENS, LENGTH, SPAN = 64, 31, 11


def _syllables() -> list[str]:
    rng, out = random.Random(0), set()
    while len(out) < N_TOKENS:
        out.add(rng.choice("bcdfghklmnprstvz") + rng.choice("aeiou") + rng.choice("bcdfghklmnprstvz"))
    return sorted(out)


def _copy_docs(path, n: int = 8000) -> None:
    rng, syl = random.Random(1), _syllables()
    lines = []
    for _ in range(n):
        x = [rng.choice(syl) for _ in range(LENGTH)]
        p = rng.randint(SPAN, LENGTH - SPAN)
        x[p:p + SPAN] = x[:SPAN]
        lines.append(" ".join(x))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _word_tokenizer(folder) -> None:
    """One token per syllable, plus end-of-text (vocabulary 65)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    eos = "<|endoftext|>"
    vocab = {eos: 0, **{s: i + 1 for i, s in enumerate(_syllables())}}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token=eos))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=eos, bos_token=eos,
                            pad_token=eos).save_pretrained(folder)


def test_two_layers_form_an_induction_head_one_layer_does_not(tmp_path):
    _copy_docs(tmp_path / "copy.txt")
    _word_tokenizer(tmp_path / "tok")
    spec = parse_spec({
        "name": "induction-tiny",
        "data": {"generator": "text", "path": str(tmp_path / "copy.txt"), "split_on": "line",
                 "eval_fraction": 0.01},
        "tokenizer": {"path": str(tmp_path / "tok")},
        "model": {"n_layers": 2, "d_model": 64, "n_heads": 1, "context": 32},
        "train": {"steps": 800, "batch_size": 32, "lr": 3e-3, "warmup": 20,
                  "schedule": "constant", "weight_decay": 0.0, "checkpoints": "every:100",
                  "threads": 1},
        "grid": {"seed": [0], "variants": [{"name": "one-layer", "n_layers": 1}]},
        "measure": {"eval_sequences": 8, "dist_positions": 16, "hidden_positions": 8,
                    "probes": "none"},
    })
    suite = train(spec, tmp_path / "suite")
    assert measure(suite, out=tmp_path / "store").ok
    ds = open_store(tmp_path / "store")
    runs = [str(r) for r in ds["run"].values]
    best = dict(zip(runs, circuits.strongest(ds, "induction"), strict=True))
    two, one = best["seed0-data0"], best["one-layer"]
    assert np.nanmax(two) >= circuits.THRESHOLD["induction"]  # formed, by the one definition
    assert two[0] < 0.2  # ... during training, not at init
    assert np.nanmax(one) < 0.2  # one layer: no K-composition, no induction head
    res = analyze(tmp_path / "store", names=["circuit_survival"], n_boot=20)["circuit_survival"]
    fates = res.tables["fates"].set_index(["role", "run"])["fate"]
    assert fates[("induction", "seed0-data0")] != "never formed"
    assert fates[("induction", "one-layer")] == "never formed"
