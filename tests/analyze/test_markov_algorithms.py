import numpy as np
import pytest

from pathdep.analyze.markov_algorithms import markov_algorithms
from pathdep.errors import PathdepError
from pathdep.probes.markov import ALGORITHMS
from pathdep.train import train


def test_every_checkpoint_compared_with_the_four_algorithms_and_saved(tmp_path, tiny_spec):
    suite = train(tiny_spec(train={"checkpoints": [8]}), tmp_path / "mk")
    res = markov_algorithms(suite, tmp_path / "analysis", n_rep=2, length=16)
    df = res.tables["kl"]
    assert len(df) == 2 * 3 * 2 * len(ALGORITHMS)  # runs x steps x chainsets x algorithms
    assert np.isfinite(df["kl"]).all() and (df["kl"] >= -1e-9).all()
    for _, g in df.groupby(["run", "step", "chainset"]):  # dominant = the nearest algorithm
        assert g["dominant"].iloc[0] == g.loc[g["kl"].idxmin(), "algorithm"]
    assert res.verdict.startswith("At the last checkpoint, on train chains the nearest is")
    assert set(res.tables["dominance"]["chainset"]) == {"train", "fresh"}  # 2 runs: cannot tell
    assert "no algorithm can be shown dominant" in res.verdict
    assert (tmp_path / "analysis" / "markov_algorithms" / "kl.csv").is_file()


def test_a_suite_without_chains_is_refused(tmp_path, tiny_spec):
    spec = tiny_spec(data={"generator": "world", "n_docs": 30, "n_eval_docs": 5},
                     train={"steps": 2, "checkpoints": [1]}, grid={"seed": [0]},
                     tokenizer={"vocab_size": 300})
    suite = train(spec, tmp_path / "w")
    with pytest.raises(PathdepError, match="not a markov-mixture suite"):
        markov_algorithms(suite)
