"""G: planted kept and replaced induction heads are told apart."""

import numpy as np

from pathdep.analysis import circuits
from pathdep.analyze.circuit_survival import circuit_survival

from .synthetic import add_heads, base


def test_kept_and_replaced_heads():
    ds, _ = add_heads(base(n_runs=4, n_steps=14), formation=np.array([5, 6, 5, 7]), replaced=(1, 3))
    res = circuit_survival(ds, n_boot=50)
    f = res.tables["fates"].set_index(["role", "run"])
    assert f.loc[("induction", "run0"), "fate"] == "kept"
    assert f.loc[("induction", "run0"), "first_heads"] == "L1H2"
    assert f.loc[("induction", "run1"), "fate"] == "replaced"
    assert f.loc[("induction", "run1"), "first_heads"] == "L1H0"
    assert f.loc[("induction", "run1"), "final_heads"] == "L1H2"
    assert (f.loc["previous_token", "fate"] == "kept").all()
    st = ds["step"].values
    assert f.loc[("induction", "run3"), "first_step"] == st[7]
    s = res.summary["induction"]
    assert s["kept"] == 2 and s["replaced"] == 2 and s["mean_survival"].value == 0.5
    t = res.tables["tenure"]
    spell = t[(t.run == "run1") & (t["head"] == "L1H0")].iloc[0]
    assert spell.from_step == st[6] and spell.to_step == st[8]  # formation 6, replaced 3 later


def test_no_head_over_the_threshold():
    ds, _ = add_heads(base(n_runs=2, n_steps=8), formation=np.array([3, 3]))
    res = circuit_survival(ds, threshold=0.95, n_boot=10)
    assert (res.tables["fates"].fate == "never formed").all()
    assert "formed in any run" in res.verdict


def test_roles_follow_the_one_definition_of_formed():
    """Without the threshold option, roles are circuits.formed: an induction-score head
    whose copying is negative holds no induction role (and is 'never formed')."""
    ds, _ = add_heads(base(n_runs=2, n_steps=10), formation=np.array([4, 5]))
    res = circuit_survival(ds, n_boot=10)
    f = res.tables["fates"].set_index(["role", "run"])
    assert (f.loc["induction", "fate"] == "kept").all()
    ds["head_score"].loc[{"kind": "copying", "layer_h": 1, "head": 2}] = -0.2
    res = circuit_survival(ds, n_boot=10)
    f = res.tables["fates"].set_index(["role", "run"])
    assert (f.loc["induction", "fate"] == "never formed").all()
    assert (f.loc["previous_token", "fate"] == "kept").all()
    assert circuits.describe("induction") in res.verdict


def test_a_head_crossing_the_threshold_for_a_checkpoint_or_two_is_not_a_circuit():
    from pathdep.analyze.circuit_survival import stable, survival_row

    held = np.zeros((10, 3), bool)
    held[4:, 0] = True  # the real head, from checkpoint 4 on
    held[[2, 3], 1] = True  # a weaker head above the threshold at two checkpoints
    held[7, 2] = True
    row = survival_row(held, np.arange(10), ["a", "b", "c"])
    assert row["first_heads"] == "a" and row["fate"] == "kept" and row["first_step"] == 4
    held[[2, 3, 4], 1] = True  # three checkpoints: it held the role first, then lost it
    held[8:, 0] = False
    held[7:, 2] = True  # c takes over and holds it to the end
    row = survival_row(held, np.arange(10), ["a", "b", "c"])
    assert row["first_heads"] == "b" and row["final_heads"] == "c" and row["fate"] == "replaced"
    assert stable(held)[:, 2].sum() == 3
