"""Known answers for "formed": hand-set models measured by heads.py, judged by analysis/circuits.py.

The 2-layer model (handmade.py) has a previous-token head L0H0 and an induction
head L1H0 that K-composes with it (its keys read what L0H0 wrote) and copies;
the 1-layer control has the same induction wiring at L0H1 but nothing below it
to compose with. The prefix sequences are drawn as the measurement plan draws them.
"""

import numpy as np
import pytest
import torch

from pathdep.analysis import circuits
from pathdep.measure.heads import head_scores
from pathdep.measure.plan import prefix_sequences
from pathdep.store.schema import KINDS

from .handmade import V, handmade_model


def _measured(model) -> np.ndarray:
    rng = np.random.default_rng(0)
    text = torch.randint(1, V, (4, 48), generator=torch.Generator().manual_seed(1)).numpy()
    prefix = prefix_sequences(np.arange(1, V), bos=0, context=61, examples=8, rng=rng)
    return head_scores(model, text, prefix)  # (layer, head, kind)


def _formed(scores: np.ndarray, role: str) -> list[tuple[int, int]]:
    return [tuple(int(i) for i in ix) for ix in np.argwhere(circuits.formed(scores, KINDS, role))]


@pytest.fixture(scope="module")
def two_layer():
    return _measured(handmade_model())


@pytest.fixture(scope="module")
def one_layer():
    return _measured(handmade_model(layers=1))


def test_two_layer_model_forms_both_heads(two_layer):
    assert _formed(two_layer, "previous_token") == [(0, 0)]
    assert _formed(two_layer, "induction") == [(1, 0)]
    assert two_layer[1, 0, KINDS.index("ov_eigen")] > 0.99  # its OV circuit copies


def test_one_layer_model_forms_no_induction_head(one_layer):
    assert _formed(one_layer, "previous_token") == [(0, 0)]
    assert _formed(one_layer, "induction") == []
    s = one_layer[0, 1]  # the induction wiring with nothing to compose with
    assert s[KINDS.index("copying")] > 0.5  # it copies ...
    assert s[KINDS.index("induction")] < 0.2  # ... but cannot find the token after the copy


def test_an_induction_head_that_does_not_copy_is_not_formed():
    scores = _measured(handmade_model(induction=False))
    assert scores[1, 0, KINDS.index("induction")] > 0.99  # the attention is unchanged
    assert scores[1, 0, KINDS.index("ov_eigen")] <= 0  # but its OV circuit does not copy
    assert _formed(scores, "induction") == []
