"""Shared test setup: offline, quiet, small."""

import json
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import pytest  # noqa: E402


def tiny_spec_dict(**over) -> dict:
    """A spec that trains in about a second per run (Markov data, 2-layer d=32)."""
    d = {
        "name": "tiny",
        "data": {"generator": "markov-mixture", "n_docs": 200, "n_eval_docs": 20, "seq_len": 48},
        "model": {"n_layers": 2, "d_model": 32, "n_heads": 2, "context": 48},
        "train": {"steps": 24, "batch_size": 4, "lr": 3e-3, "warmup": 4, "checkpoints": "log:4",
                  "threads": 1},
        "grid": {"seed": [0, 1], "data_seed": [0]},
    }
    for k, v in over.items():
        merge = isinstance(v, dict) and k != "data"  # a new [data] replaces the old one
        d[k] = {**d.get(k, {}), **v} if merge else v
    return d


@pytest.fixture
def tiny_spec():
    from pathdep.spec import parse_spec

    return lambda **over: parse_spec(tiny_spec_dict(**over))


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(v)


def write_toml(path, d: dict):
    """Write a spec dict (as from ``tiny_spec_dict``) as TOML: top-level keys, then sections."""
    lines = [f"{k} = {_toml_value(v)}" for k, v in d.items() if not isinstance(v, dict)]
    for k, v in d.items():
        if isinstance(v, dict):
            lines += ["", f"[{k}]"] + [f"{kk} = {_toml_value(x)}" for kk, x in v.items()]
    path.write_text("\n".join(lines) + "\n")
    return path
