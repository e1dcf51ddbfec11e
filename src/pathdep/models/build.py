"""Build a GPT-NeoX (the Pythia architecture) from a ``[model]`` section, or reload one."""

from __future__ import annotations

from pathlib import Path

import torch

from pathdep.spec import ModelSpec


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
        bos_token_id=tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )


def build_model(m: ModelSpec, tok):
    """A freshly initialised ``GPTNeoXForCausalLM`` (seed torch before calling)."""
    # deferred: `pathdep --help` (which lists the analyses) need not import transformers
    from transformers import GPTNeoXForCausalLM

    return GPTNeoXForCausalLM(neox_config(m, tok))


def load_neox(folder: str | Path):
    """A saved GPT-NeoX checkpoint in float32 (``from_pretrained`` maps saved names back)."""
    # deferred: `pathdep --help` (which lists the analyses) need not import transformers
    from transformers import GPTNeoXForCausalLM

    return GPTNeoXForCausalLM.from_pretrained(folder, dtype=torch.float32)
