"""Loss paths between checkpoints, computed once and cached as JSON files.

    cache = PathCache(tokens, alphas, cache_dir=out / ".lmc_cache")
    losses = cache.losses(run_a, ck_a, run_b, ck_b)   # L(α) on the grid

A path's key is what identifies both checkpoints' weights (location, step,
weights file time), the α grid and the evaluation tokens' hash, so a rerun
loads models only for new pairs, and a retrained checkpoint is recomputed.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from pathdep.atomic import write_json
from pathdep.lmc.barrier import barrier_device, interpolation_losses
from pathdep.lmc.inputs import token_hash
from pathdep.models import load_model
from pathdep.suites import Checkpoint, Run

log = logging.getLogger(__name__)

CACHE_NAME = "lmc"  # Context.cache_dir(CACHE_NAME) is <analysis folder>/.lmc_cache
CACHE_DIR = ".lmc_cache"


def _stamp(ck: Checkpoint) -> list:
    """What identifies a checkpoint's weights in the cache key: location, step, file time."""
    mtime = None
    if ck.path:
        f = Path(ck.path) / "model.safetensors"
        mtime = f.stat().st_mtime_ns if f.is_file() else None
    return [ck.location, ck.step, mtime]


class PathCache:
    """Loss paths between checkpoints, computed once and cached as JSON under ``cache_dir``."""

    def __init__(self, tokens: np.ndarray, alphas: np.ndarray, *, batch_size: int = 8,
                 cache_dir: str | Path | None = None, device: str = "cpu",
                 dtype: str = "float32", max_models: int = 2):
        barrier_device(device, dtype)  # a device that is not there fails before any work
        self.tokens, self.alphas = tokens, alphas
        self.batch_size, self.device, self.dtype = batch_size, device, dtype
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.hash = token_hash(tokens)
        self._models: OrderedDict[str, Any] = OrderedDict()
        self.max_models = max_models
        self.computed = 0  # paths computed (not read from the cache)

    def _model(self, run: Run, ck: Checkpoint):
        key = ck.location
        if key in self._models:
            self._models.move_to_end(key)
            return self._models[key]
        model = load_model(run, ck)
        self._models[key] = model
        while len(self._models) > self.max_models:
            self._models.popitem(last=False)
        return model

    def _key(self, ck_a: Checkpoint, ck_b: Checkpoint, align: str | None) -> tuple[str, dict]:
        desc = {"a": _stamp(ck_a), "b": _stamp(ck_b),
                "alphas": [round(float(a), 12) for a in self.alphas], "tokens": self.hash}
        if align:  # unaligned paths keep the keys they had before alignment existed
            desc["align"] = align
        if self.dtype != "float32":  # likewise float32 paths; other precisions differ
            desc["dtype"] = self.dtype
        return hashlib.sha256(json.dumps(desc, sort_keys=True).encode()).hexdigest(), desc

    def losses(self, run_a: Run, ck_a: Checkpoint, run_b: Run, ck_b: Checkpoint, *,
               align: str | None = None) -> np.ndarray:
        """L(α) on the α grid for θ(α) = (1−α)·θ(run_a@ck_a) + α·θ(run_b@ck_b).

        ``align`` (``"activations"`` or ``"weights"``): θb's units are first permuted
        to match θa's (lmc/align.py; activation matching runs on the same tokens).
        """
        key, desc = self._key(ck_a, ck_b, align)
        file = self.cache_dir / f"{key[:32]}.json" if self.cache_dir is not None else None
        if file is not None and file.is_file():
            try:
                got = json.loads(file.read_text())
                if got.get("key") == key and len(got["losses"]) == len(self.alphas):
                    return np.asarray(got["losses"], dtype=np.float64)
            except (OSError, ValueError, KeyError):
                log.warning("ignoring unreadable cache file %s", file)
        names = (f"{run_a.id}@{ck_a.step}", f"{run_b.id}@{ck_b.step}")
        model_a, model_b = self._model(run_a, ck_a), self._model(run_b, ck_b)
        if align:
            from pathdep.lmc.align import align as permute_to

            model_b, _ = permute_to(model_a, model_b, self.tokens, method=align)
        losses = interpolation_losses(model_a, model_b, self.tokens, self.alphas,
                                      batch_size=self.batch_size, device=self.device,
                                      dtype=self.dtype, names=names)
        self.computed += 1
        if file is not None:
            write_json(file, {"key": key, **desc, "runs": list(names),
                              "losses": [float(x) for x in losses]})
        return losses
