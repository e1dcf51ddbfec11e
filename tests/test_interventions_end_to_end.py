"""Known answer on real training: an intervention further training removes vs ones that persist.

Three branches of one run at step 40, each against a control branched at the same step with
the same data order (a second control with another data order sets the noise floor):

- a learning-rate spike (x10 for three steps) shakes every behaviour, and the next 350
  steps of ordinary training repair it: classified *decayed*;
- the world's canaries, injected for ten steps, stay memorised to the end: *stuck*;
- documents in letter strings that no training document contains keep their effect:
  nothing later contradicts them.
"""

from pathdep.analyze import analyze
from pathdep.measure import measure
from pathdep.spec import parse_spec
from pathdep.train import train

ISO = ["qxv zjk qxv zjk wup", "zjk wup zjk wup qxv", "wup qxv wup qxv zjk", "kvq kvq zjk qxv kvq"]
SPEC = {
    "name": "ivexp",
    "data": {"generator": "world", "n_docs": 400, "n_eval_docs": 40, "n_entities": 12,
             "n_canaries": 4},
    "tokenizer": {"vocab_size": 320},
    # rotary_pct 0.25: the model these known answers were calibrated on (the default became
    # 1.0 in issue 13; with 1.0 this seed's spike had not decayed by step 400)
    "model": {"n_layers": 2, "d_model": 32, "n_heads": 2, "context": 64, "rotary_pct": 0.25},
    "train": {"steps": 400, "batch_size": 8, "lr": 3e-3, "warmup": 10, "checkpoints": "log:5",
              "threads": 1},
    "interventions": [
        {"name": "iso", "docs": ISO, "start": 1, "end": 10, "rows": 4},
        {"name": "can", "source": "canaries", "start": 1, "end": 10, "rows": 4},
        {"name": "hot", "lr_scale": 10.0, "start": 1, "end": 3},
    ],
    "branches": [
        {"name": "ctl", "parent": "seed0-data0", "at": [40], "data_seed": [1, 2],
         "checkpoints": "log:6"},
        {"name": "x", "parent": "seed0-data0", "at": [40], "data_seed": [1],
         "intervention": ["iso", "hot", "can"], "checkpoints": "log:6"},
    ],
    "measure": {"eval_sequences": 8, "dist_positions": 16, "hidden_positions": 8,
                "head_examples": 2},
}


def test_a_learning_rate_spike_decays_while_injected_documents_stick(tmp_path):
    suite = train(parse_spec(SPEC), tmp_path / "s")
    assert measure(suite, out=tmp_path / "m.zarr").ok
    res = analyze(tmp_path / "m.zarr", names=["interventions"], n_boot=50)["interventions"]
    rows = res.tables["per_run"].set_index("intervention")
    assert set(rows["control"]) == {"ctl-at40-data1"}
    assert rows.loc["hot", "measured_on"].startswith("battery")  # no target probe: everything
    assert rows.loc["hot", "label"] == "decayed", rows.loc["hot"]
    assert rows.loc["can", "label"] == "stuck", rows.loc["can"]
    assert rows.loc["can", "measured_on"] == "iv:can"
    assert rows.loc["iso", "measured_on"] == "iv:iso"
    assert rows.loc["iso", "final"] > rows.loc["iso", "noise_floor"]
    assert res.summary["by_branch_step"]["40"]["n"] == 3
