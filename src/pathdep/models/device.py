"""Which device and precision a model runs in: ``--device`` and ``--dtype`` (issue 17).

    dev = resolve_device("auto")             # cuda:0 where there is a GPU, else mps, else cpu
    dt = resolve_dtype("auto", dev)          # bfloat16 on a GPU that supports it, else float32

Every failure is a :class:`PathdepError` that names the device or dtype and the
fix: a GPU that is not there, an index past the last GPU, bfloat16 on a GPU
without it. Log-softmax, gathers and entropies stay in float32 whatever the
model's dtype (measure/forward.py computes them a slice of positions at a time).

Determinism: on the CPU in float32 a measurement is bit-identical between runs
(and its log-probs equal across batch sizes to 1e-5, tests/measure/test_device.py).
On a GPU, cuBLAS and fused attention kernels choose algorithms by shape, so
values agree to float32 rounding (about 1e-6) only with
``torch.use_deterministic_algorithms(True)`` and ``CUBLAS_WORKSPACE_CONFIG=:4096:8``
set by the user; in bfloat16 they agree to about 1e-2 nats. The store records
the device kind and dtype of its measurements (``measure_device``,
``measure_dtype``) so stores are compared knowingly.
"""

from __future__ import annotations

import re

from pathdep.errors import PathdepError

DEVICES = "auto, cpu, cuda, cuda:N or mps"
DTYPES = ("auto", "float32", "bfloat16", "float16")
_DEVICE = re.compile(r"(auto|cpu|mps|cuda)(?::(\d+))?")


def resolve_device(name: str | None = "auto"):
    """The ``torch.device`` for ``name`` (auto, cpu, cuda, cuda:N, mps), checked to exist."""
    import torch

    name = (name or "auto").strip().lower()
    m = _DEVICE.fullmatch(name)
    if not m or (m.group(2) is not None and m.group(1) != "cuda"):
        raise PathdepError(f"unknown device {name!r}; use {DEVICES}")
    kind, index = m.group(1), m.group(2)
    if kind == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise PathdepError(f"device {name!r}: no CUDA GPU is available to PyTorch "
                               f"(torch {torch.__version__}, CUDA build: "
                               f"{torch.version.cuda or 'no'}); use --device cpu or auto")
        n = torch.cuda.device_count()
        i = int(index) if index is not None else torch.cuda.current_device()
        if i >= n:
            raise PathdepError(f"device {name!r}: there are {n} CUDA GPUs (cuda:0 to "
                               f"cuda:{n - 1}); pick one of them")
        return torch.device("cuda", i)
    if kind == "mps" and not _mps_available():
        raise PathdepError(f"device {name!r}: Apple's MPS backend is not available here; use "
                           "--device cpu or auto")
    return torch.device(kind)


def _mps_available() -> bool:
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_dtype(name: str | None, device):
    """The model's ``torch.dtype``: ``auto`` is bfloat16 on a GPU that has it, else float32."""
    import torch

    name = (name or "auto").strip().lower()
    if name not in DTYPES:
        raise PathdepError(f"unknown dtype {name!r}; use one of {', '.join(DTYPES)}")
    kind = device.type
    if name == "auto":
        if kind == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    dtype = getattr(torch, name)
    if dtype is torch.bfloat16 and kind == "cuda" and not torch.cuda.is_bf16_supported():
        raise PathdepError(f"dtype bfloat16: GPU {torch.cuda.get_device_name(device)} does not "
                           "support it; use --dtype float16 or float32")
    return dtype


def dtype_name(dtype) -> str:
    """'float32' for torch.float32."""
    return str(dtype).removeprefix("torch.")


def auto_batch_size(model, n_pos: int, device, *, given: int) -> int:
    """Sequences per forward pass on a GPU, from its free memory; ``given`` elsewhere.

    A sequence of T tokens holds about 12 * L * T * d activations (attention,
    MLP and residual, kept until the layer ends under inference mode) plus
    L * H * T^2 attention scores where attention is not fused, in the model's
    dtype; the log-prob slices are bounded separately (forward.LOGIT_BUDGET).
    Half the free memory is used, and never fewer than ``given`` sequences'
    worth is asked of a GPU too small for them (the caller's batch stands).
    """
    if device.type != "cuda":
        return given
    import torch

    cfg = model.config
    L, d, H = cfg.num_hidden_layers, cfg.hidden_size, cfg.num_attention_heads
    width = next(model.parameters()).element_size()
    per_seq = (12 * L * n_pos * d + H * n_pos * n_pos) * width + 4 * n_pos * 4
    free, _ = torch.cuda.mem_get_info(device)
    fits = int(0.5 * free // max(1, per_seq))
    return max(given, min(fits, 1024))
