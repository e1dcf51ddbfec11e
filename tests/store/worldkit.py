"""A tiny measured world suite (behaviour probes, an unknown tokens_seen, a job not measured).

``build_world_store(root)`` trains 2 runs x steps 0, 20 into ``root/suite`` (a world
suite, so the store has probes, and items such as ``canary:0`` under several probes),
drops seed1@0's tokens_seen (stored -1) and measures every job but seed1@20 into
``root/old.zarr``; about 4 s.

tests/store/fixtures/store_format1.tar.gz is this store as commit 5dce5c4 (store
format 1, before issue 16) wrote it, built at /tmp/h16s_old/out by these same steps (then
tests/store/fixtures/make_store_format1.py, commit f12bcfd) and packed with

    cd /tmp/h16s_old/out && tar czf store_format1.tar.gz old.zarr suite/tokenizer

so its ``tokenizer`` attribute is the absolute path /tmp/h16s_old/out/suite/tokenizer.
Today's code writes a store of the current format instead.
"""

import json
import logging
import sys
from pathlib import Path

from pathdep.measure import measure
from pathdep.spec import parse_spec
from pathdep.train import train

SPEC = {
    "name": "old",
    "data": {"generator": "world", "n_docs": 120, "n_eval_docs": 20, "n_entities": 6,
             "n_words": 30, "n_canaries": 2},
    "tokenizer": {"vocab_size": 128},
    "model": {"n_layers": 1, "d_model": 16, "n_heads": 2, "context": 32},
    "train": {"steps": 20, "batch_size": 8, "lr": 1e-2, "warmup": 2, "checkpoints": [0, 20],
              "threads": 1},
    "interventions": [{"name": "c", "source": "canaries", "select": [0], "start": 2, "end": 18,
                       "every": 2}],
    "grid": {"seed": [0, 1], "intervention": ["c"]},
    "measure": {"eval_sequences": 3, "dist_positions": 4, "hidden_positions": 2, "batch_size": 8,
                "head_examples": 2, "check_duplicates": False},
}
UNKNOWN_RUN = "seed1-data0-c"  # its step 0 has no tokens_seen, its step 20 is not measured


def build_world_store(root: Path) -> Path:
    """The suite in ``root/suite`` and its store ``root/old.zarr`` (returned)."""
    root = Path(root)
    train(parse_spec(SPEC), root / "suite")
    manifest = root / "suite" / "suite.json"
    man = json.loads(manifest.read_text())
    for run in man["runs"]:
        if run["id"] == UNKNOWN_RUN:
            ck = run["checkpoints"][0]
            ck["tokens_seen"] = None
            side = root / "suite" / ck["path"] / "pathdep.json"
            meta = json.loads(side.read_text())
            meta.pop("tokens_seen")
            side.write_text(json.dumps(meta))
    manifest.write_text(json.dumps(man, indent=1))
    out = root / "old.zarr"
    assert measure(root / "suite", out=out, steps=[0]).ok
    assert measure(root / "suite", out=out, runs=["seed0-data0-c"], steps=[20]).ok
    return out


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    logging.warning("built %s", build_world_store(Path(sys.argv[1])))
