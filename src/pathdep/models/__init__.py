"""The model layer: loading checkpoints and tokenizers, architecture taps, building, sampling.

Everything that touches a model object's internals or its weights on disk
lives here, below the packages that use models (measure, probes, train, lmc,
rl, prompts): :mod:`~pathdep.models.load` (checkpoints, tokenizers, configs),
:mod:`~pathdep.models.arch` (blocks, residual taps, logit head, OV circuits),
:mod:`~pathdep.models.build` (a GPT-NeoX or GPT-2 from a ``[model]`` section) and
:mod:`~pathdep.models.sampler` (the one KV-cache sampler).
"""

from pathdep.models.load import load_folder, load_model, load_tokenizer, model_shape

__all__ = ["load_folder", "load_model", "load_tokenizer", "model_shape"]
