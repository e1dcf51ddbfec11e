"""GPT-2 beside GPT-NeoX through every stage (issue 13): one grid crossing ``arch``, trained,
branched, measured, analysed (barriers included) and reported; and a GPT-2 run resumed."""

import json

import numpy as np
import pytest
from safetensors.numpy import load_file

from pathdep.pipeline import run
from pathdep.spec import parse_spec
from pathdep.train import train
from pathdep.train.loop import ckpt_dir
from tests.conftest import tiny_spec_dict

NEOX, GPT2 = "seed0-data0-archgpt_neox", "seed0-data0-archgpt2"


def _spec() -> dict:
    return tiny_spec_dict(
        model={"rotary_pct": 1.0},  # a GPT-NeoX key: it applies to the GPT-NeoX run only
        grid={"seed": [0], "arch": ["gpt_neox", "gpt2"],
              "variants": [{"name": "gpt2-seed1", "arch": "gpt2", "seed": 1}]},
        branches=[{"name": "b", "parent": GPT2, "at": [8], "data_seed": [0, 1]}],
        measure={"eval_sequences": 8, "dist_positions": 32, "hidden_positions": 16,
                 "head_examples": 2})


def _weights(out, run_id, step):
    return load_file(str(ckpt_dir(out, run_id, step) / "model.safetensors"))


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    return run(parse_spec(_spec()), tmp_path_factory.mktemp("gpt2") / "s")


def test_both_architectures_are_trained_and_recorded(made):
    from transformers import AutoConfig

    from pathdep.store import open_store

    out = made["suite"]
    types = {r: AutoConfig.from_pretrained(ckpt_dir(out, r, 24)).model_type
             for r in (NEOX, GPT2, "gpt2-seed1", "b-at8-data1")}
    assert types == {NEOX: "gpt_neox", GPT2: "gpt2", "gpt2-seed1": "gpt2", "b-at8-data1": "gpt2"}
    neox_cfg = AutoConfig.from_pretrained(ckpt_dir(out, NEOX, 24))
    assert neox_cfg.rope_parameters["partial_rotary_factor"] == 1.0
    ds = open_store(made["store"])
    assert json.loads(ds.attrs["architectures"]) == ["gpt2", "gpt_neox"]
    arch = dict(zip(ds.run.values.tolist(), ds["factor_arch"].values.tolist(), strict=True))
    assert arch[NEOX] == "gpt_neox" and arch[GPT2] == arch["b-at8-data0"] == "gpt2"
    steps = [0, 1, 3, 8, 24]  # the grid runs' checkpoints (log:4)
    for rid in (NEOX, GPT2):  # head scores, copying included, are measured on both
        assert bool(ds["done"].sel(run=rid, step=steps).all()), rid
        hs = ds["head_score"].sel(run=rid, step=steps).values
        assert np.isfinite(hs).all(), rid
        assert np.isfinite(ds["loss"].sel(run=rid, step=steps).values).all()


def test_a_gpt2_branch_with_nothing_changed_reproduces_its_parent(made):
    a, b = _weights(made["suite"], GPT2, 24), _weights(made["suite"], "b-at8-data0", 24)
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_barriers_run_on_gpt2_and_the_report_names_the_architectures(made):
    summary = json.loads((made["suite"] / "summary.json").read_text())
    assert summary["architectures"] == ["gpt2", "gpt_neox"]
    by_name = {a["name"]: a for s in summary["sections"] for a in s["analyses"]}
    basins = by_name["basins"]
    assert basins["summary"]["n_runs"] == 4  # the GPT-2 runs: two of the grid, two branches
    assert basins["summary"]["left_out"] == [NEOX]
    assert "another architecture" in basins["verdict"] and NEOX in basins["verdict"]
    assert np.isfinite(basins["summary"]["max_barrier"])
    inst = by_name["instability"]["summary"]
    assert inst["n_pairs"] == 1 and inst["branch_steps"] == [8]
    assert "Architectures: gpt2, gpt_neox" in made["report"].read_text()


def test_an_interrupted_gpt2_run_resumes_to_the_same_weights(tmp_path, monkeypatch):
    from tests.train.interrupt import train_stopping_after

    d = tiny_spec_dict(model={"arch": "gpt2"}, grid={"seed": [0], "data_seed": [0]})
    spec = parse_spec(d)
    train_stopping_after(spec, tmp_path / "cut", 8, monkeypatch)
    assert not ckpt_dir(tmp_path / "cut", "seed0-data0", 24).exists()
    train(spec, tmp_path / "cut")  # resumes from step 8 (loads the saved GPT-2)
    train(spec, tmp_path / "clean")
    a, b = _weights(tmp_path / "cut", "seed0-data0", 24), _weights(tmp_path / "clean", "seed0-data0", 24)
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def test_gpt2_is_measured_with_the_fused_gelu_and_stores_hf_log_probs(made):
    """The job loads GPT-2 with its GELU in torch's fused kernel (arch.fused_activations); the
    stored log-probs are those of the model as Hugging Face runs it, to float32 rounding."""
    import torch

    from pathdep.measure.job import MeasureJob, _load
    from pathdep.models import arch
    from pathdep.models.load import load_model
    from pathdep.store import open_store, read_inputs
    from pathdep.suites import load_suite

    run_ = next(r for r in load_suite(made["suite"]).runs if r.id == GPT2)
    loaded = _load(MeasureJob(str(made["store"]), run_, 24), run_.checkpoint(24))
    acts = [m for b in loaded.transformer.h for m in b.mlp.children() if "GELU" in type(m).__name__]
    assert acts and all(isinstance(m, arch.TanhGELU) for m in acts)
    hf = load_model(run_, run_.checkpoint(24)).eval()  # the activation HF's config names
    assert not any(isinstance(m, arch.TanhGELU) for m in hf.modules())
    tokens = torch.from_numpy(read_inputs(made["store"])["tokens"]).long()
    with torch.no_grad():
        lp = torch.log_softmax(hf(tokens).logits.float(), -1)[:, :-1]
        want = lp.gather(-1, tokens[:, 1:, None])[..., 0].numpy()
    got = open_store(made["store"])["logprob"].sel(run=GPT2, step=24).values[:, 1:]
    assert np.abs(got - want).max() <= 1e-5
