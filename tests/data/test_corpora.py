import json

import numpy as np
import pytest

from pathdep.data import generate
from pathdep.data.markov import MarkovConfig, stationary
from pathdep.data.text import HFDatasetConfig, TextConfig
from pathdep.data.tokenizer import check_encodes, train_bpe
from pathdep.errors import PathdepError


def test_markov_chains_have_dirichlet_rows_and_sequences_follow_them():
    cfg = MarkovConfig(k=5, n_chains=1, n_docs=400, seq_len=200, seed=3)
    c = generate(cfg, "train")
    T = np.array(c.info["chains"][0])
    assert T.shape == (5, 5) and np.allclose(T.sum(1), 1)
    # empirical transition frequencies converge to the chain's matrix
    counts = np.zeros((5, 5))
    for doc in c.docs:
        s = [int(t[1:]) for t in doc.split()]
        for a, b in zip(s, s[1:], strict=False):
            counts[a, b] += 1
    emp = counts / counts.sum(1, keepdims=True)
    assert np.abs(emp - T).max() < 0.03
    pi = stationary(T)
    assert np.allclose(pi @ T, pi)


def test_markov_tokenizer_ids_are_states_and_eval_differs():
    cfg = MarkovConfig(k=4, n_docs=10, n_eval_docs=10, seq_len=20)
    train, ev = generate(cfg, "train"), generate(cfg, "eval")
    assert train.info["chains"] == ev.info["chains"] and train.docs != ev.docs
    ids = train.tokenizer("s0 s3 s1", add_special_tokens=False)["input_ids"]
    assert ids == [0, 3, 1] and train.tokenizer.eos_token_id == 4


def test_text_txt_and_jsonl_split_held_out(tmp_path):
    p = tmp_path / "c.txt"
    p.write_text("\n\n".join(f"document number {i}." for i in range(40)))
    cfg = TextConfig(path=str(p), eval_fraction=0.1)
    tr, ev = generate(cfg, "train"), generate(cfg, "eval")
    assert len(ev.docs) == 4 and len(tr.docs) == 36 and not set(tr.docs) & set(ev.docs)
    j = tmp_path / "c.jsonl"
    j.write_text("\n".join(json.dumps({"body": f"doc {i}"}) for i in range(10)))
    assert len(generate(TextConfig(path=str(j), text_field="body"), "train").docs) == 9
    with pytest.raises(PathdepError, match="has no key 'text'"):
        generate(TextConfig(path=str(j)), "train")


def test_hf_dataset_from_a_saved_folder_offline(tmp_path, monkeypatch):
    import datasets

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = tmp_path / "ds"
    datasets.Dataset.from_dict({"text": [f"line {i} of the set" for i in range(20)]}).save_to_disk(str(folder))
    c = generate(HFDatasetConfig(name=str(folder), max_docs=10, eval_fraction=0.2), "train")
    assert len(c.docs) == 8 and all(d.startswith("line") for d in c.docs)
    with pytest.raises(PathdepError, match="no column 'content'"):
        generate(HFDatasetConfig(name=str(folder), text_field="content"), "train")
    with pytest.raises(PathdepError, match="cannot load dataset"):
        generate(HFDatasetConfig(name="no-such-org/no-such-dataset"), "train")


def test_bpe_tokenizer_round_trips_and_refuses_a_foreign_tokenizer():
    docs = ["The cat sat on the mat.", "A dog (big) ran!"] * 20
    tok = train_bpe(docs, vocab_size=300)
    ids = tok(docs[1], add_special_tokens=False)["input_ids"]
    assert tok.decode(ids) == docs[1] and tok.eos_token == "<|endoftext|>"
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    t = Tokenizer(models.WordLevel({"a": 0, "[UNK]": 1, "<eos>": 2}, unk_token="[UNK]"))
    t.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    foreign = PreTrainedTokenizerFast(tokenizer_object=t, unk_token="[UNK]", eos_token="<eos>")
    check_encodes(foreign, ["a a a"])  # encodable: no error
    with pytest.raises(PathdepError, match="cannot encode the data"):
        check_encodes(foreign, ["a b c"])
