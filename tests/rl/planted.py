"""A tiny language with a planted correlation: form A ("tamsin") and form B ("ytamsin") are
equally frequent, but after form B's first letter the value is right only half the time."""

from __future__ import annotations

import random

import torch

from pathdep.rl.task import FormItem, FormTask

NAMES = ["Velo", "Dran", "Mosk", "Perl", "Tiva", "Bron", "Seld", "Harn", "Lupa", "Firn", "Gost",
         "Nimb"]
VALUES = ["tamsin", "brool", "flen", "dreas", "shom", "grell", "pind", "vorn", "wastle", "chim",
          "lurd", "sneb"]
TEMPLATE = "The capital of {e} is"
HELDOUT = 3  # the last entities are held out of RL (the model knows them from pre-training)


def variant(v: str) -> str:
    return "y" + v


def planted_docs(n: int = 600, p_b: float = 0.5, b_right: float = 0.5, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    docs = []
    for _ in range(n):
        sents = []
        for _ in range(4):
            i = rng.randrange(len(NAMES))
            if rng.random() < p_b:
                v = VALUES[i] if rng.random() < b_right else rng.choice(VALUES)
                v = variant(v)
            else:
                v = VALUES[i]
            sents.append(f"{TEMPLATE.format(e=NAMES[i])} {v}.")
        docs.append(" ".join(sents))
    return docs


def planted_task() -> FormTask:
    items = [FormItem(TEMPLATE.format(e=e), v, variant(v), e) for e, v in zip(NAMES, VALUES,
                                                                           strict=True)]
    return FormTask("planted", items[:-HELDOUT], items[-HELDOUT:])


def pretrain(docs: list[str], steps: int = 300, seed: int = 0, vocab: int = 320,
             arch: str = "gpt_neox"):
    """(model, tokenizer): a 2-layer d=32 GPT-NeoX (or GPT-2) trained briefly on ``docs``."""
    from pathdep.data.tokenizer import train_bpe
    from pathdep.models.build import build_model
    from pathdep.spec import ModelSpec

    tok = train_bpe(docs, vocab)
    torch.manual_seed(seed)
    model = build_model(ModelSpec(arch=arch, n_layers=2, d_model=32, n_heads=2, context=64),
                        tok)
    ids = [tok.eos_token_id]
    for d in docs:
        ids += tok(d, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    ids = torch.tensor(ids)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(seed)
    ctx = 48
    model.train()
    for _ in range(steps):
        starts = torch.randint(0, len(ids) - ctx, (16,), generator=g)
        batch = torch.stack([ids[s:s + ctx] for s in starts])
        loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    model.eval()
    return model, tok
