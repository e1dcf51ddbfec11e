"""The English battery: shipped data files that a byte-level BPE tokenises completely."""

from pathdep.data.tokenizer import train_bpe
from pathdep.probes import compile_probes, select_probes
from pathdep.probes.english import english_probes


def test_english_battery_files_load_and_tokenise():
    probes = list(english_probes())
    names = {p.name for p in probes}
    assert {"en_punct", "en_brackets", "en_capital", "en_email", "en_language", "en_acronym",
            "en_facts", "en_phrases", "en_induction"} == names
    tok = train_bpe(["The quick brown fox. Where is it? (a [b] {c}) x@y.com"] * 20, vocab_size=300)
    c = compile_probes(probes, tok, context=64)  # strict: every item fits a byte-level BPE
    assert c is not None and c.names == [p.name for p in probes]
    assert c.n_items == sum(len(p.items) for p in probes)


def test_auto_gives_natural_text_suites_the_english_battery():
    assert {p.name for p in select_probes("auto", None)} == {p.name for p in english_probes()}
    text_spec = {"data": {"generator": "text", "path": "x.txt"}}
    assert select_probes("auto", text_spec)[0].name.startswith("en_")


def test_induction_items_repeat_their_span():
    p = next(p for p in english_probes() if p.name == "en_induction")
    for it in p.items:
        first, second = it.prompt.split(". ")
        words = first.split()
        assert it.correct[0].strip() == words[len(second.split())]
        assert not {w.strip() for w in it.incorrect} & set(words)
