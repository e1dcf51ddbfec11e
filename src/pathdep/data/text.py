"""User corpora: a .txt or .jsonl file (`text`), or a Hugging Face dataset (`hf-dataset`).

A .txt file holds one document per blank-line-separated block (or per line,
with ``split_on = "line"``); a .jsonl file one JSON object per line with the
text under ``text_field``. Held-out documents for evaluation are a fixed,
seeded share of the documents, never used in training.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from pathdep.data.base import Corpus, Split
from pathdep.errors import PathdepError


class TextConfig(BaseModel):
    """A user's text file."""

    model_config = ConfigDict(extra="forbid")

    generator: Literal["text"] = "text"
    path: str = Field(description="A .txt or .jsonl file.")
    text_field: str = Field("text", description="JSONL key holding the document text.")
    split_on: Literal["blank-line", "line"] = Field("blank-line", description="How .txt splits documents.")
    eval_fraction: float = Field(0.05, gt=0, lt=1, description="Share of documents held out.")
    seed: int = Field(0, description="Seed of the held-out split.")


class HFDatasetConfig(BaseModel):
    """A Hugging Face dataset: a hub name (online) or a ``save_to_disk`` folder."""

    model_config = ConfigDict(extra="forbid")

    generator: Literal["hf-dataset"] = "hf-dataset"
    name: str = Field(description="Hub dataset id, or a folder written by save_to_disk.")
    config: str | None = Field(None, description="Dataset configuration name.")
    split: str = Field("train", description="Which split to read.")
    text_field: str = Field("text", description="Column holding the text.")
    max_docs: int | None = Field(None, ge=1, description="Read at most this many documents.")
    eval_fraction: float = Field(0.05, gt=0, lt=1, description="Share of documents held out.")
    seed: int = Field(0, description="Seed of the held-out split.")


def read_txt(path: Path, split_on: str) -> list[str]:
    text = path.read_text(encoding="utf-8")
    if split_on == "line":
        return [ln for ln in text.splitlines() if ln.strip()]
    return [b.strip() for b in text.split("\n\n") if b.strip()]


def read_jsonl(path: Path, field: str) -> list[str]:
    return list(iter_jsonl(path, field))


def iter_jsonl(path: Path, field: str) -> Iterator[str]:
    """The ``field`` of each line of a JSON-lines file, read a line at a time (flat memory)."""
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise PathdepError(f"{path} line {i} is not valid JSON: {e}") from None
            if not isinstance(obj, dict) or field not in obj:
                raise PathdepError(
                    f"{path} line {i} has no key {field!r}; set data.text_field to the key that "
                    "holds the text"
                )
            yield str(obj[field])


def _split(docs: list[str], frac: float, seed: int, split: Split, source: str) -> list[str]:
    docs = [d for d in docs if d.strip()]
    if not docs:
        raise PathdepError(f"{source} holds no text: the corpus is empty; point data at a file with documents")
    if len(docs) < 2:
        raise PathdepError(f"{source} holds one document; at least 2 are needed (one is held out for evaluation)")
    order = np.random.default_rng(seed).permutation(len(docs))
    n_eval = max(1, int(round(frac * len(docs))))
    idx = order[:n_eval] if split == "eval" else order[n_eval:]
    return [docs[i] for i in sorted(idx)]


def generate_text(cfg: TextConfig, split: Split) -> Corpus:
    path = Path(cfg.path)
    if not path.is_file():
        raise PathdepError(f"data file {path} does not exist; set data.path to a .txt or .jsonl file")
    if path.suffix == ".jsonl":
        docs = read_jsonl(path, cfg.text_field)
    else:
        try:
            docs = read_txt(path, cfg.split_on)
        except UnicodeDecodeError as e:
            raise PathdepError(f"{path} is not UTF-8 text: {e}") from None
    docs = _split(docs, cfg.eval_fraction, cfg.seed, split, str(path))
    return Corpus(docs=docs, info={"generator": "text", "path": str(path)})


def generate_hf(cfg: HFDatasetConfig, split: Split) -> Corpus:
    import datasets

    folder = Path(cfg.name)
    try:
        if folder.is_dir():
            ds = datasets.load_from_disk(str(folder))
            if isinstance(ds, datasets.DatasetDict):
                ds = ds[cfg.split]
        else:
            ds = datasets.load_dataset(cfg.name, cfg.config, split=cfg.split)
    except (FileNotFoundError, ConnectionError, ValueError, OSError) as e:
        hint = (
            " HF_HUB_OFFLINE is set and the dataset is not cached: download it first, or save it "
            "with Dataset.save_to_disk and give that folder"
            if os.environ.get("HF_HUB_OFFLINE") in ("1", "true")
            else ""
        )
        raise PathdepError(f"cannot load dataset {cfg.name!r}: {e}.{hint}") from None
    if cfg.text_field not in ds.column_names:
        raise PathdepError(
            f"dataset {cfg.name!r} has no column {cfg.text_field!r}; its columns are "
            f"{ds.column_names}; set data.text_field"
        )
    if cfg.max_docs:
        ds = ds.select(range(min(cfg.max_docs, len(ds))))
    docs = _split(list(ds[cfg.text_field]), cfg.eval_fraction, cfg.seed, split, cfg.name)
    return Corpus(docs=docs, info={"generator": "hf-dataset", "name": cfg.name, "split": cfg.split})
