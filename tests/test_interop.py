"""pathdep's checkpoints in other tools: the same log-probs, patterns and head scores (issue 16).

A suite trained with a rotary share other than transformers' default (0.5, not 0.25)
is measured once; then an independent ``from_pretrained``, TransformerLens' bridge
and nnsight each recompute the stored numbers from the checkpoint folder. The
from_pretrained part runs in the minimum-versions job too; the bridges need
``pathdep[interp]`` and skip without it.
"""

import json

import numpy as np
import pytest
import torch

from pathdep.errors import PathdepError

STEP = 24


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    from pathdep import api
    from pathdep.spec import parse_spec
    from tests.conftest import tiny_spec_dict

    out = tmp_path_factory.mktemp("interop")
    spec = parse_spec(tiny_spec_dict(model={"rotary_pct": 0.5}, grid={"seed": [0], "data_seed": [0]},
                                     train={"checkpoints": [0, STEP]}))
    suite = api.train(spec, out / "suite")
    api.measure(suite, out=out / "suite" / "store.zarr")
    ds = api.open_store(out / "suite" / "store.zarr")
    folder = api.checkpoint_path(suite, suite.run_ids[0], STEP)
    return suite, ds.sel(run=suite.run_ids[0], step=STEP).load(), ds, folder


def _logprobs(logits: torch.Tensor, tokens: torch.Tensor) -> np.ndarray:
    lp = logits.float().log_softmax(-1)[:, :-1].gather(-1, tokens[:, 1:, None])[..., 0]
    return lp.detach().numpy()


def _stored(cell) -> tuple[torch.Tensor, np.ndarray]:
    return torch.as_tensor(cell["tokens"].values, dtype=torch.long), cell["logprob"].values[:, 1:]


def test_an_independent_from_pretrained_reproduces_the_stored_logprobs(measured):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _, cell, ds, folder = measured
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    assert model.config.rope_parameters["partial_rotary_factor"] == 0.5
    tokens, stored = _stored(cell)
    with torch.no_grad():
        ours = _logprobs(model(tokens).logits, tokens)
    np.testing.assert_allclose(ours, stored, atol=1e-5)
    # the tokenizer loads by a class every transformers has, with explicit special tokens
    cfg = json.loads((folder / "tokenizer_config.json").read_text())
    assert cfg["tokenizer_class"] == "PreTrainedTokenizerFast"
    tok = AutoTokenizer.from_pretrained(folder)
    assert tok.bos_token_id is not None and tok.eos_token_id is not None
    assert tok.pad_token_id is not None
    ids = ds["tokens"].values[0, 1:20].tolist()
    assert tok(tok.decode(ids), add_special_tokens=False)["input_ids"] == ids


def _tl_patterns(bridge, tokens: torch.Tensor) -> torch.Tensor:
    """(L, B, H, T, T) attention patterns from TransformerLens' cache."""
    _, cache = bridge.run_with_cache(tokens)
    return torch.stack([cache["pattern", layer] for layer in range(bridge.cfg.n_layers)])


def test_transformer_lens_bridge_gives_the_stored_logprobs_and_pathdeps_patterns(measured):
    pytest.importorskip("transformer_lens")
    from transformers import AutoModelForCausalLM

    from pathdep import to_transformer_lens

    suite, cell, _, folder = measured
    tokens, stored = _stored(cell)
    hf = AutoModelForCausalLM.from_pretrained(folder, attn_implementation="eager").eval()
    prefix = torch.as_tensor(cell["prefix_tokens"].values, dtype=torch.long)
    with torch.no_grad():
        ref = torch.stack(hf(prefix, output_attentions=True).attentions)  # (L, B, H, T, T)
    for compat in (False, True):
        tl = to_transformer_lens(suite, suite.run_ids[0], STEP, compatibility_mode=compat)
        with torch.no_grad():
            np.testing.assert_allclose(_logprobs(tl(tokens), tokens), stored, atol=1e-5)
            torch.testing.assert_close(_tl_patterns(tl, prefix), ref, atol=1e-5, rtol=0)


def test_stored_head_scores_follow_from_transformer_lens_detector(measured):
    """docs/circuits.md, "Against TransformerLens": the exact relation on matched inputs."""
    pytest.importorskip("transformer_lens")
    from transformer_lens import head_detector as hd

    from pathdep import to_transformer_lens

    _, cell, ds, folder = measured
    tl = to_transformer_lens(folder)
    kinds = list(ds["kind"].values)
    stored = cell["head_score"].values  # (layer_h, head, kind)
    prefix = torch.as_tensor(cell["prefix_tokens"].values, dtype=torch.long)
    text = torch.as_tensor(cell["tokens"].values[: prefix.shape[0]], dtype=torch.long)
    L, H = tl.cfg.n_layers, tl.cfg.n_heads

    def tl_scores(seqs, name):
        with torch.no_grad():
            pats = _tl_patterns(tl, seqs)
        out = np.zeros((len(seqs), L, H))
        for s, seq in enumerate(seqs):
            det = getattr(hd, f"get_{name}_head_detection_pattern")(seq[None])
            for layer in range(L):
                for h in range(H):
                    out[s, layer, h] = hd.compute_head_attention_similarity_score(
                        pats[layer, s, h], detection_pattern=det, exclude_bos=False,
                        exclude_current_token=False, error_measure="mul")
        return out

    T = text.shape[1]
    prev = tl_scores(text, "previous_token").mean(0) * T / (T - 1)
    np.testing.assert_allclose(prev, stored[..., kinds.index("previous_token")], atol=1e-5)
    Tp = prefix.shape[1]
    for name, kind in (("duplicate_token", "duplicate_token"), ("induction", "induction")):
        dup = hd.get_duplicate_token_head_detection_pattern
        queries = sum(int(dup(seq[None]).amax(-1).sum()) for seq in prefix)  # rows with a copy
        ours = tl_scores(prefix, name).sum(0) * Tp / queries
        np.testing.assert_allclose(ours, stored[..., kinds.index(kind)], atol=1e-5)


def test_nnsight_bridge_gives_the_stored_logprobs_and_patterns(measured):
    pytest.importorskip("nnsight")
    from transformers import AutoModelForCausalLM

    from pathdep import to_nnsight

    _, cell, _, folder = measured
    tokens, stored = _stored(cell)
    lm = to_nnsight(folder)
    prefix = torch.as_tensor(cell["prefix_tokens"].values, dtype=torch.long)
    with torch.no_grad(), lm.trace(tokens):
        logits = lm.output.logits.save()
    np.testing.assert_allclose(_logprobs(logits, tokens), stored, atol=1e-5)
    pats = []
    with torch.no_grad(), lm.trace(prefix):
        for layer in lm.gpt_neox.layers:  # in execution order, as nnsight requires
            pats.append(layer.attention.output[1].save())
    hf = AutoModelForCausalLM.from_pretrained(folder, attn_implementation="eager").eval()
    with torch.no_grad():
        ref = hf(prefix, output_attentions=True).attentions
    for ours, theirs in zip(pats, ref, strict=True):
        torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=0)


def test_a_bridge_names_what_it_needs(measured, tmp_path):
    from pathdep.models.bridges import resolve

    suite, _, _, folder = measured
    assert resolve(folder) == (str(folder), None)
    assert resolve("EleutherAI/pythia-70m@step1000") == ("EleutherAI/pythia-70m", "step1000")
    with pytest.raises(PathdepError, match="no config.json"):
        resolve(tmp_path)
    with pytest.raises(PathdepError, match="both run and step"):
        resolve(suite, suite.run_ids[0])
    with pytest.raises(PathdepError, match="no checkpoint at step 5"):
        resolve(suite, suite.run_ids[0], 5)
