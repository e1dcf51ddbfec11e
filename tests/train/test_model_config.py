"""A saved checkpoint loads back as the model that was trained, on the installed transformers.

Below transformers 5.5, GPTNeoXConfig overwrote ``rope_parameters.partial_rotary_factor``
with its default 0.25: a model trained with another rotary share loaded
silently wrong (issue 12/16). This runs in the minimum-versions job too.
"""

import pytest
import torch
from transformers import GPTNeoXForCausalLM

from pathdep.models.build import build_model
from pathdep.spec import ModelSpec


class _Tok:
    bos_token_id, eos_token_id, pad_token_id = 1, 2, 0

    def __len__(self):
        return 64


@pytest.mark.parametrize(("share", "rotary_dims"), [(0.5, 8), (1.0, 16)])
def test_a_rotary_share_other_than_transformers_default_survives_save_and_load(
        tmp_path, share, rotary_dims):
    spec = ModelSpec(n_layers=1, d_model=32, n_heads=2, context=16, rotary_pct=share)
    torch.manual_seed(0)
    model = build_model(spec, _Tok()).eval()
    model.save_pretrained(tmp_path)
    again = GPTNeoXForCausalLM.from_pretrained(tmp_path, dtype=torch.float32).eval()
    assert again.config.rope_parameters["partial_rotary_factor"] == share
    ids = torch.arange(16)[None] % 64
    with torch.no_grad():
        assert torch.allclose(model(ids).logits, again(ids).logits, atol=1e-6)
    assert again.gpt_neox.layers[0].attention.rotary_ndims == rotary_dims  # 16 head dims x share
