"""Tokenizers: train a byte-level BPE on the data, or check a given one can encode it."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from pathdep.errors import PathdepError

log = logging.getLogger(__name__)
EOS = "<|endoftext|>"


def train_bpe(docs: Sequence[str], vocab_size: int, min_frequency: int = 2):
    """A byte-level BPE (Hugging Face ``tokenizers``) as a ``PreTrainedTokenizerFast``.

    Byte-level means every string is encodable; ``<|endoftext|>`` separates
    documents and doubles as BOS and padding.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    if not docs:
        raise PathdepError("cannot train a tokenizer on an empty corpus")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=[EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(docs, trainer=trainer)
    log.info("trained a byte-level BPE with %d tokens", tok.get_vocab_size())
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS, bos_token=EOS, pad_token=EOS)


def word_level(words: Sequence[str]):
    """A word-level tokenizer (Hugging Face ``tokenizers``) with id i for ``words[i]`` and
    id ``len(words)`` for end-of-text (also BOS, unknown and padding); whitespace splits
    words. For generators that write a closed vocabulary of symbols."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(words)} | {EOS: len(words)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token=EOS))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token=EOS, bos_token=EOS, unk_token=EOS, pad_token=EOS
    )


def load_tokenizer_from(path: str):
    """An existing tokenizer from a folder or hub id."""
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(path, trust_remote_code=False)
    except (OSError, ValueError) as e:
        raise PathdepError(f"cannot load tokenizer {path!r}: {e}") from None
    if tok.eos_token is None:
        raise PathdepError(f"tokenizer {path!r} has no end-of-text token; pathdep needs one to separate documents")
    return tok


def check_encodes(tok, docs: Sequence[str], n: int = 50) -> None:
    """Refuse a tokenizer that maps the data to unknown tokens or cannot round-trip it."""
    unk = tok.unk_token_id
    for doc in list(docs)[:n]:
        ids = tok(doc, add_special_tokens=False)["input_ids"]
        if not ids:
            continue
        if unk is not None and unk != tok.eos_token_id and unk in ids:
            raise PathdepError(
                f"the tokenizer cannot encode the data: it maps text to its unknown token "
                f"({tok.unk_token!r}), e.g. in {doc[:60]!r}; use a tokenizer made for this data, "
                "or drop tokenizer.path so pathdep trains one"
            )
        if tok.decode(ids).strip() != doc.strip() and unk is not None and unk in ids:
            raise PathdepError(f"the tokenizer does not round-trip the data, e.g. {doc[:60]!r}")
