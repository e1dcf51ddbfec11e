"""Probe chance levels: c / (c + w) per item, and probes that never leave chance are left out."""

import numpy as np

from pathdep.analysis import properties
from pathdep.analyze.run_variance import run_variance

from ..analyze.synthetic import add_behavior, base


def _with_rows(ds, items_per_probe: dict[str, list[tuple[int, int]]]):
    """Probe rows: for each probe, items given as (acceptable, wrong) continuation counts."""
    item_probe, prow_item, prow_correct = [], [], []
    for p, items in items_per_probe.items():
        for c, w in items:
            prow_item += [len(item_probe)] * (c + w)
            prow_correct += [True] * c + [False] * w
            item_probe.append(p)
    ds = ds.assign_coords(item_probe=("item", np.array(item_probe)))
    ds["prow_item"] = ("prow", np.array(prow_item, np.int64))
    ds["prow_correct"] = ("prow", np.array(prow_correct))
    return ds


def test_chance_is_the_share_of_acceptable_continuations_per_item():
    ds = add_behavior(base(n_runs=2, n_steps=3), {"a": np.full((2, 3), 0.5), "b": np.full((2, 3), 0.5)})
    ds = _with_rows(ds, {"a": [(1, 1), (1, 3)], "b": [(2, 2)]})
    chance, n = properties.probe_chance(ds)
    assert chance == {"a": (0.5 + 0.25) / 2, "b": 0.5} and n == {"a": 2, "b": 1}


def test_a_probe_that_never_leaves_chance_is_not_ranked():
    rng = np.random.default_rng(0)
    n_runs, n_steps, k = 6, 8, 64
    learned = np.linspace(0.5, 0.95, n_steps)[None] + rng.normal(0, 0.03, (n_runs, n_steps))
    noise = 0.5 + rng.normal(0, 0.02, (n_runs, n_steps))  # within 2 s.e. (0.125) of chance
    ds = add_behavior(base(n_runs=n_runs, n_steps=n_steps), {"learned": learned, "noise": noise})
    ds = _with_rows(ds, {"learned": [(1, 1)] * k, "noise": [(1, 1)] * k})
    P = properties.informative(properties.scalar_properties(ds))
    assert P.attrs["at_chance"] == ["behavior:noise"]
    assert "behavior:learned" in P["property"].values and "behavior:noise" not in P["property"].values
    res = run_variance(ds, n_boot=20)
    assert "noise" not in set(res.tables["properties"]["property"].str.split(":").str[-1])
    assert res.summary["at_chance"] == ["behavior:noise"]
    assert "1 probe never left chance and is left out: noise" in res.verdict
    row = res.tables["properties"].set_index("property").loc["behavior:learned"]
    assert row["chance"] == 0.5
