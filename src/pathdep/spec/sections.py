"""The sections of a spec: [tokenizer], [model], [train], [grid], [[branches]], [rl], [measure],
[report] (their keys and rules; pathdep.spec assembles them)."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import (
    ConfigDict,
    Field,
    field_validator,
    model_serializer,
    model_validator,
)

from pathdep.paths import check_name
from pathdep.spec.base import SafeName, _Strict


class TokenizerSpec(_Strict):
    """The tokenizer: an existing one (``path``), or a byte-level BPE trained on the data."""

    path: str | None = Field(None, description="Folder or hub id of an existing tokenizer.")
    vocab_size: int = Field(512, ge=64, le=200_000, description="BPE vocabulary size when training one.")
    min_frequency: int = Field(2, ge=1, description="Minimum pair frequency for a BPE merge.")


#: ``[model]`` keys that only one architecture has (GPT-2 has learned absolute
#: positions and a sequential residual: no rotary share, no parallel residual).
ARCH_ONLY_KEYS = {"rotary_pct": "gpt_neox", "parallel_residual": "gpt_neox"}


class ModelSpec(_Strict):
    """A GPT-NeoX (Pythia architecture, rotary positions) or GPT-2 (learned positions) model."""

    arch: Literal["gpt_neox", "gpt2"] = Field(
        "gpt_neox", exclude_if=lambda v: v == "gpt_neox",  # so older specs keep their digest
        description=(
            "Architecture: 'gpt_neox' (Pythia's: rotary position embeddings on rotary_pct of each "
            "head's dims, parallel residual) or 'gpt2' (GPT-2's, as in the Stanford CRFM suites: "
            "learned absolute position embeddings, sequential residual; context is a hard limit "
            "on positions). Crossable in [grid] (arch = [\"gpt_neox\", \"gpt2\"]) to make the "
            "positional encoding a factor; rotary_pct and parallel_residual are GPT-NeoX keys."))
    n_layers: int = Field(2, ge=1, le=64, description="Transformer blocks.")
    d_model: int = Field(64, ge=8, description="Residual stream width.")
    n_heads: int = Field(4, ge=1, description="Attention heads per layer.")
    d_mlp: int | None = Field(None, description="MLP width; default 4 * d_model.")
    context: int = Field(128, ge=8, description="Context length in tokens (GPT-2: its n_positions).")
    rotary_pct: float = Field(1.0, gt=0, le=1, description=(
        "Share of head dims with rotary embeddings (gpt_neox only). Default 1.0, not Pythia's 0.25: in a "
        "2-layer d_model 64 model (4 heads of 16 dims) 0.25 leaves 4 dims per head with "
        "positions and no induction head formed in 800 steps, while 1.0 formed one by step "
        "200-400 (issue 13). Set 0.25 to resume a suite trained before this default."))
    dropout: float = Field(0.0, ge=0, lt=1, description="Attention and residual dropout.")
    parallel_residual: bool = Field(True, description="Pythia's parallel attention + MLP (gpt_neox only).")
    tie_embeddings: bool = Field(False, description="Tie input and output embeddings.")

    @model_validator(mode="after")
    def _heads_divide(self):
        if self.d_model % self.n_heads:
            raise ValueError(
                f"model.d_model ({self.d_model}) must be divisible by model.n_heads ({self.n_heads})"
            )
        return self

    @model_validator(mode="after")
    def _arch_keys(self):
        """Keys given for another architecture are errors (defaults are not: model_fields_set)."""
        bad = sorted(k for k, a in ARCH_ONLY_KEYS.items() if k in self.model_fields_set and a != self.arch)
        if bad:
            allowed = sorted(k for k in type(self).model_fields
                             if ARCH_ONLY_KEYS.get(k, self.arch) == self.arch)
            raise ValueError(
                f"model.{bad[0]} is a {ARCH_ONLY_KEYS[bad[0]]} key, which arch = {self.arch!r} "
                f"does not have; remove {' and '.join(bad)} or set arch = "
                f"{ARCH_ONLY_KEYS[bad[0]]!r}. Keys allowed with arch = {self.arch!r}: "
                + ", ".join(allowed))
        return self

    @model_serializer(mode="wrap")
    def _dump(self, handler):
        """Leave out the keys this architecture does not have, so a saved spec reads back."""
        out = handler(self)
        for k, a in ARCH_ONLY_KEYS.items():
            if a != self.arch:
                out.pop(k, None)
        return out


class TrainSpec(_Strict):
    """AdamW with linear warm-up then decay, gradient clipping, a checkpoint schedule."""

    steps: int = Field(ge=1, description="Optimizer steps per run.")
    batch_size: int = Field(16, ge=1, description="Sequences per step.")
    lr: float = Field(1e-3, gt=0, description="Peak learning rate.")
    min_lr_ratio: float = Field(0.1, ge=0, le=1, description="Final lr as a share of the peak.")
    warmup: int = Field(50, ge=0, description="Warm-up steps.")
    schedule: Literal["cosine", "linear", "constant"] = Field("cosine", description="Decay after warm-up.")
    weight_decay: float = Field(0.1, ge=0, description="AdamW weight decay.")
    beta1: float = Field(0.9, ge=0, lt=1)
    beta2: float = Field(0.95, ge=0, lt=1)
    grad_clip: float = Field(1.0, ge=0, description="Max gradient norm (0: no clipping).")
    checkpoints: str | list[int] = Field(
        "log:20", description="'log:N' (log-spaced, step 0 included), 'every:K', 'every:K:A-B' "
        "(every K steps from A to B), a union such as 'log:12+every:25:100-600', or a list of steps."
    )
    threads: int | None = Field(None, ge=1, description="torch CPU threads (default: all cores).")
    device: str = Field(
        "cpu", exclude_if=lambda v: v == "cpu",  # so older specs keep their digest
        description="Where runs train: cpu (bit-identical reruns), cuda, cuda:N, mps, or auto (a "
                    "GPU if there is one). Part of the digest: other devices give other weights.")
    dtype: Literal["float32", "bfloat16", "auto"] = Field(
        "float32", exclude_if=lambda v: v == "float32",
        description="float32, or bfloat16 autocast (float32 master weights and optimizer); auto = "
                    "bfloat16 on a GPU that has it, else float32.")
    packing: Literal["stream", "doc_start"] = Field(
        "stream", exclude_if=lambda v: v == "stream",  # so older specs keep their digest
        description="How documents fill the contexts: 'stream' joins them and cuts every "
                    "context tokens; 'doc_start' starts every context at a document's start "
                    "(or every context tokens into a long one) and runs on into the next, so "
                    "copies inside a document are seen whole. Induction heads formed with "
                    "'doc_start' and not with 'stream' on 2-layer models (BENCHMARKS.md).")

    @field_validator("device")
    @classmethod
    def _device(cls, v):
        return check_device(v)

    @field_validator("checkpoints")
    @classmethod
    def _schedule(cls, v):
        term = r"(log:\d+|every:\d+(:\d+-\d+)?)"
        if isinstance(v, list) or re.fullmatch(rf"{term}(\+{term})*", v):
            return v
        raise ValueError(f"{v!r} is not a schedule; use 'log:N', 'every:K', 'every:K:A-B', "
                         "unions of these joined by '+', or a list of steps")


GRID_KEYS_FIXED = ("seed", "data_seed", "intervention")


def _crossed_lists(extra: dict | None, allowed: set[str], unknown: str, section: str) -> None:
    """Extra keys of a section must be allowed and non-empty lists (values to cross)."""
    for key, value in (extra or {}).items():
        if key not in allowed:
            raise ValueError(unknown.format(key))
        if not isinstance(value, list) or not value:
            raise ValueError(f"{section}.{key} must be a non-empty list of values, got {value!r}")


class GridSpec(_Strict):
    """Factors to cross. ``seed`` fixes init (and dropout); ``data_seed`` the data order.

    Any ``[model]`` or ``[train]`` key may be given as a list too (e.g.
    ``lr = [1e-3, 3e-3]``, or ``arch = ["gpt_neox", "gpt2"]`` to cross the
    positional encoding); ``variants`` add single runs that change a few keys
    of the base run.
    """

    model_config = ConfigDict(extra="allow")

    seed: list[int] = Field([0], min_length=1, description="Init seeds.")
    data_seed: list[int] = Field([0], min_length=1, description="Data-order seeds.")
    intervention: list[str] | None = Field(None, description="Intervention names to cross ('none' = none).")
    variants: list[dict[str, Any]] = Field(default_factory=list, description="Extra single runs.")

    @model_validator(mode="after")
    def _known_keys(self):
        allowed = set(ModelSpec.model_fields) | set(TrainSpec.model_fields)
        _crossed_lists(self.model_extra, allowed, "grid.{} is not a factor; allowed: seed, "
                       "data_seed, intervention, variants, or a [model]/[train] key ("
                       + ", ".join(sorted(allowed)) + ")", "grid")
        for v in self.variants:
            if "name" in v:
                check_name("grid.variants", v["name"])
            bad = set(v) - allowed - set(GRID_KEYS_FIXED) - {"name"}
            if bad:
                raise ValueError(
                    f"grid.variants has unknown key(s) {sorted(bad)}; allowed: name, seed, "
                    f"data_seed, intervention, or a [model]/[train] key"
                )
        return self

    @property
    def factors(self) -> dict[str, list]:
        """Every crossed factor with its values, in a stable order."""
        out: dict[str, list] = {"seed": self.seed, "data_seed": self.data_seed}
        out.update(self.model_extra or {})
        if self.intervention:
            out["intervention"] = self.intervention
        return out



BRANCH_TRAIN_KEYS = ("lr", "min_lr_ratio", "schedule", "weight_decay", "beta1", "beta2", "grad_clip")


class BranchSpec(_Strict):
    """Runs that continue a run from one of its steps with something changed.

    A branch starts from ``parent``'s weights, optimizer state, RNG state and
    data position at step ``at`` and trains on, with its own data-order seed,
    interventions or hyperparameters, for ``steps`` more steps or to the
    parent's last step. The lists ``at``, ``data_seed``, ``intervention`` and
    any of the train keys ``lr``, ``weight_decay``, ... are crossed; each
    combination is one run, with id ``<name>-at<k>[-data<d>][-<intervention>][-<key><v>]``
    and factors ``parent`` and ``branch_step``. A branch with nothing changed
    reproduces its parent exactly. Interventions in a branch count their
    ``start``/``end`` from the branch step.
    """

    model_config = ConfigDict(extra="allow")

    name: SafeName = Field(description="Id prefix of these branches.")
    parent: str = Field(description="Run id to branch from (a grid run or an earlier branch).")
    at: list[int] = Field(min_length=1, description="Branch steps (steps of the parent).")
    data_seed: list[int] | None = Field(None, description="Data-order seeds from the branch step on (default: the parent's).")
    intervention: list[str] | None = Field(None, description="Intervention names ('none' = none).")
    steps: int | None = Field(None, ge=1, description="Steps to train after the branch step (default: to the parent's last step).")
    checkpoints: str | list[int] | None = Field(
        None, description="Checkpoint schedule counted from the branch step (default: the parent's schedule over the branch's length).")

    @field_validator("at")
    @classmethod
    def _steps_nonneg(cls, v):
        if any(x < 0 for x in v):
            raise ValueError(f"branch steps must be >= 0, got {v}")
        return sorted(set(v))

    @field_validator("checkpoints")
    @classmethod
    def _schedule(cls, v):
        return v if v is None else TrainSpec._schedule(v)

    @model_validator(mode="after")
    def _known_keys(self):
        _crossed_lists(self.model_extra, set(BRANCH_TRAIN_KEYS), "branches.{} cannot change in "
                       "a branch; allowed: at, data_seed, intervention, steps, checkpoints, "
                       + ", ".join(BRANCH_TRAIN_KEYS), "branches")
        return self

    @property
    def changes(self) -> dict[str, list]:
        """The crossed train-key changes, in a stable order."""
        return dict(self.model_extra or {})


class RLSpec(_Strict):
    """RL fine-tuning of one base checkpoint across RL seeds (``pathdep rl``).

    The built-in task ``world-spelling`` asks world facts whose values the
    corpus writes in two interchangeable spellings (``data.spelling_variants``);
    the reward is 1 for the right value in either spelling.
    """

    task: Literal["world-spelling"] = Field("world-spelling", description=(
        "The RL task: world facts answered in either of two spellings (the only one so far)."))
    base: str | None = Field(None, description="Run id of the base model (default: the suite's first run).")
    step: int | None = Field(None, ge=0, description="Checkpoint step of the base (default: its last).")
    seeds: list[int] = Field([0, 1, 2, 3, 4, 5, 6, 7], min_length=2, description="RL seeds.")
    steps: int = Field(100, ge=1, description="Policy-gradient steps per RL seed.")
    prompts_per_step: int = Field(8, ge=1, description="Prompts per step.")
    group: int = Field(8, ge=2, description="Samples per prompt (group baseline, GRPO-style).")
    lr: float = Field(1e-4, gt=0, description="Adam learning rate.")
    max_new_tokens: int = Field(8, ge=1, description="Longest sampled answer, in tokens.")
    temperature: float = Field(1.0, gt=0, description="Sampling temperature.")
    eval_every: int = Field(5, ge=1, description="Measure the form share every this many steps.")
    device: str = Field(
        "cpu", exclude_if=lambda v: v == "cpu",  # so older specs (and finished seeds) keep their key
        description="Where the base model is fine-tuned and the shares measured: cpu (the default: "
                    "bit-identical reruns), cuda, cuda:N, mps, or auto (a GPU if there is one).")
    dtype: Literal["float32", "bfloat16", "auto"] = Field(
        "float32", exclude_if=lambda v: v == "float32",
        description="float32, or bfloat16 autocast for the forward passes (float32 weights and "
                    "Adam, as [train]); auto = bfloat16 on a GPU that has it, else float32.")

    @field_validator("device")
    @classmethod
    def _device(cls, v):
        return check_device(v)


def check_device(v: str) -> str:
    """auto, cpu, mps, cuda or cuda:N (whether it exists is checked where it is used)."""
    if not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", v):
        raise ValueError(f"{v!r} is not a device; use auto, cpu, cuda, cuda:N or mps")
    return v


class MeasureSpec(_Strict):
    """What to measure at every checkpoint (the measurement stage reads this)."""

    eval_sequences: int = Field(64, ge=1, description="Evaluation sequences (of model.context tokens).")
    dist_positions: int = Field(512, ge=0, description="Positions whose full next-token distribution is kept.")
    hidden_positions: int = Field(256, ge=0, description="Positions whose hidden states are kept.")
    batch_size: int = Field(16, ge=1, description="Sequences per forward pass.")
    context: int | None = Field(
        None, ge=8, description="Tokens per evaluation sequence; default model.context (or the checkpoints' maximum, capped at 1024)."
    )
    top_k: int = Field(256, ge=1, description="Entries kept per distribution when the vocabulary is too large to keep whole.")
    full_vocab_max: int = Field(4096, ge=1, description="Keep whole distributions when the vocabulary has at most this many entries.")
    hidden_layers: list[int] | None = Field(
        None, description="Residual-stream layers whose hidden states are kept (0 = embeddings); default all."
    )
    head_examples: int = Field(10, ge=1, description="Sequences for the head scores (Olsson et al.: 10).")
    logprob_dtype: Literal["float32", "float16"] = Field("float32", description="Storage type of logprob.")
    seed: int = Field(0, description="Seed of the sample positions and the head-score sequences.")
    check_duplicates: bool = Field(True, description="Record checkpoints with identical weights in the store.")
    device: str = Field(
        "cpu", exclude_if=lambda v: v == "cpu",  # so older specs keep their digest
        description="Where models run: cpu (the default: the same numbers on every machine), cuda, cuda:N, mps, or auto (a CUDA GPU, else MPS, else the CPU).")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", exclude_if=lambda v: v == "auto",
        description="Model weights' precision: auto = bfloat16 on a GPU that has it, else float32; log-softmax and entropies stay float32.")
    @field_validator("device")
    @classmethod
    def _device(cls, v):
        return check_device(v)

    probes: str | list[str] = Field(
        "auto", exclude_if=lambda v: v == "auto",  # so older specs keep their digest
        description="Behaviour probes: 'auto' (world suites: the world battery), 'none', or a list of probe names, batteries and .toml/.jsonl files (`pathdep ls probes`).")


class ReportSpec(_Strict):
    """Options of the HTML report."""

    title: str | None = None
    analyses: list[str] | None = Field(
        None, exclude_if=lambda v: v is None,  # so older specs keep their digest
        description="The analyses `pathdep run` runs and reports (names as `pathdep analyze "
                    "--help` lists them; checked against the registry by `pathdep validate` and "
                    "before `pathdep run` trains); default: every default analysis.")

    @field_validator("analyses")
    @classmethod
    def _named(cls, v):
        if v is not None and not v:
            raise ValueError("analyses is empty; name at least one, or leave the key out for "
                             "every default analysis")
        return v
