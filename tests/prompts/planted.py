"""A lookup-table causal LM whose outcome depends on one planted token and nothing else.

Vocabulary: ``? a b X Y 1 2``. The prompt is ``?``. At generated index
``k`` the model says X (p=0.55) or Y (0.45); at the last index ``length-1``
it says 1 if the token at index ``k`` is X, else 2; everywhere else a (0.6)
or b (0.4), which never changes the answer. So x*_k is the one forking
token, also when a model planted at another ``k`` resamples along this
model's base path (two runs that fork at different tokens).
"""

from __future__ import annotations

from types import SimpleNamespace

import torch

VOCAB = ["?", "a", "b", "X", "Y", "1", "2"]
IDX = {w: i for i, w in enumerate(VOCAB)}


class Planted(torch.nn.Module):
    def __init__(self, k: int = 4, length: int = 10):
        super().__init__()
        self.k, self.length = k, length

    def _probs(self, prefix: list[int]) -> list[float]:
        g = len(prefix) - 1  # generated index this position predicts
        p = [0.0] * len(VOCAB)
        if g == self.k:
            p[IDX["X"]], p[IDX["Y"]] = 0.55, 0.45
        elif g >= self.length - 1:
            x_at_k = len(prefix) > self.k + 1 and prefix[self.k + 1] == IDX["X"]
            p[IDX["1"] if x_at_k else IDX["2"]] = 1.0
        else:
            p[IDX["a"]], p[IDX["b"]] = 0.6, 0.4
        return p

    def forward(self, input_ids, **kw):
        rows = [[self._probs(r[: j + 1]) for j in range(len(r))] for r in input_ids.tolist()]
        return SimpleNamespace(logits=torch.tensor(rows).clamp_min(1e-9).log())


def decode(ids: list[int]) -> str:
    return " ".join(VOCAB[i] for i in ids)


def encode(text: str) -> list[int]:
    return [IDX[w] for w in text.split()]
