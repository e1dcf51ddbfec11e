"""Build a model from a ``[model]`` section (GPT-NeoX or GPT-2), or reload a saved one.

``arch = "gpt_neox"`` is Pythia's architecture (Biderman et al. 2023): rotary
position embeddings on ``rotary_pct`` of each head's dims, parallel residual.
``arch = "gpt2"`` is GPT-2's (Radford et al. 2019), the architecture of the
Stanford CRFM "Mistral" suites (shared/reference/public-suites.md §1): learned
absolute position embeddings for ``context`` (= ``n_positions``) positions,
sequential residual, Conv1D layers.
"""

from __future__ import annotations

from pathlib import Path

import torch

from pathdep.spec import ModelSpec


def _special_ids(tok) -> dict:
    return {"bos_token_id": tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id,
            "eos_token_id": tok.eos_token_id, "pad_token_id": tok.pad_token_id}


def neox_config(m: ModelSpec, tok):
    """A ``GPTNeoXConfig`` for this spec and tokenizer (vocab from the tokenizer)."""
    # deferred: `pathdep --help` (which lists the analyses) need not import transformers
    from transformers import GPTNeoXConfig

    return GPTNeoXConfig(
        vocab_size=len(tok),
        hidden_size=m.d_model,
        num_hidden_layers=m.n_layers,
        num_attention_heads=m.n_heads,
        intermediate_size=m.d_mlp or 4 * m.d_model,
        max_position_embeddings=m.context,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0,
                         "partial_rotary_factor": m.rotary_pct},
        attention_dropout=m.dropout,
        hidden_dropout=m.dropout,
        use_parallel_residual=m.parallel_residual,
        tie_word_embeddings=m.tie_embeddings,
        **_special_ids(tok),
    )


def gpt2_config(m: ModelSpec, tok):
    """A ``GPT2Config`` for this spec and tokenizer: ``n_positions = context`` (a hard limit)."""
    from transformers import GPT2Config  # deferred, as above

    return GPT2Config(
        vocab_size=len(tok),
        n_embd=m.d_model,
        n_layer=m.n_layers,
        n_head=m.n_heads,
        n_inner=m.d_mlp or 4 * m.d_model,
        n_positions=m.context,
        attn_pdrop=m.dropout,
        resid_pdrop=m.dropout,
        embd_pdrop=m.dropout,
        tie_word_embeddings=m.tie_embeddings,
        **_special_ids(tok),
    )


def model_config(m: ModelSpec, tok):
    """The Hugging Face config of ``m.arch`` for this spec and tokenizer."""
    return gpt2_config(m, tok) if m.arch == "gpt2" else neox_config(m, tok)


def build_model(m: ModelSpec, tok):
    """A freshly initialised ``GPTNeoXForCausalLM`` or ``GPT2LMHeadModel`` (seed torch first)."""
    # deferred: `pathdep --help` (which lists the analyses) need not import transformers
    from transformers import GPT2LMHeadModel, GPTNeoXForCausalLM

    cls = GPT2LMHeadModel if m.arch == "gpt2" else GPTNeoXForCausalLM
    return cls(model_config(m, tok))


def load_saved(folder: str | Path):
    """A checkpoint pathdep saved, in float32: the class its ``config.model_type`` names.

    ``AutoModelForCausalLM`` reads the model type (gpt_neox, gpt2, ...) from
    config.json; ``from_pretrained`` maps saved names (e.g. ``embed_out``) back.
    """
    from transformers import AutoModelForCausalLM  # deferred, as above

    return AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32,
                                                trust_remote_code=False)
