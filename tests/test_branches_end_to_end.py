"""Issue 7 end to end on a small world suite: branches, an intervention, barriers, RL."""

import json
import re

from pathdep.pipeline import run
from pathdep.spec import parse_spec

SPEC = {
    "name": "branchy",
    "data": {"generator": "world", "n_docs": 300, "n_eval_docs": 40, "n_entities": 12,
             "spelling_variants": 0.5},
    "tokenizer": {"vocab_size": 320},
    "model": {"n_layers": 2, "d_model": 32, "n_heads": 2, "context": 64},
    "train": {"steps": 60, "batch_size": 8, "lr": 3e-3, "warmup": 10, "checkpoints": "log:5",
              "threads": 1},
    "grid": {"seed": [0, 1]},
    "interventions": [{"name": "cf", "source": "counterfactual", "n_facts": 2, "start": 1,
                       "end": 6, "rows": 4}],
    "branches": [
        {"name": "stab", "parent": "seed0-data0", "at": [10, 40], "data_seed": [1, 2],
         "checkpoints": "log:3"},
        {"name": "fact", "parent": "seed0-data0", "at": [10, 40], "data_seed": [1],
         "intervention": ["cf"], "checkpoints": "log:3"},
    ],
    "rl": {"seeds": [0, 1], "steps": 3, "prompts_per_step": 4, "group": 4, "eval_every": 3},
    "measure": {"eval_sequences": 8, "dist_positions": 32, "hidden_positions": 16,
                "head_examples": 2},
}


def test_branches_interventions_barriers_and_rl_reach_the_report(tmp_path):
    made = run(parse_spec(SPEC), tmp_path / "b")
    from pathdep.store import open_store

    ds = open_store(made["store"])
    runs = list(ds.run.values)
    assert runs[:2] == ["seed0-data0", "seed1-data0"] and "fact-at10-data1-cf" in runs
    parent = dict(zip(runs, ds["factor_parent"].values.tolist(), strict=True))
    assert parent["stab-at40-data2"] == "seed0-data0" and parent["seed1-data0"] == ""
    assert "iv:cf" in ds.probe.values
    # the intervention's target is planted: at the end of the burst the branch believes the
    # counterfactual more than its control does
    m = ds.behavior_margin.sel(probe="iv:cf")
    both = ds.done.sel(run="fact-at10-data1-cf") & ds.done.sel(run="stab-at10-data1")
    after = int(ds.step[both & (ds.step >= 16)][0])  # the first checkpoint after the burst
    assert (m.sel(run="fact-at10-data1-cf", step=after)
            > m.sel(run="stab-at10-data1", step=after) + 0.5).item()
    summary = json.loads((tmp_path / "b" / "summary.json").read_text())
    by_name = {a["name"]: a for s in summary["sections"] for a in s["analyses"]}
    assert {"instability", "basins", "interventions", "rl_paths", "fact_timing"} <= set(by_name)
    assert by_name["interventions"]["summary"]["n_interventions"] == 2
    assert set(by_name["instability"]["summary"]) >= {"stability_step"}
    html = made["report"].read_text()
    assert {"interventions", "rl"} <= set(re.findall(r'<section id="([^"]+)"', html))
