"""Lay out a suite's store: the evaluation set, the fixed samples, the dims, the attributes.

Dims that depend on the models (layers, heads, width, vocabulary) are the
maxima over the runs, read from one ``config.json`` per run; smaller models
are NaN-padded. Distributions keep the whole vocabulary when it has at most
``full_vocab_max`` entries, else the top ``top_k`` plus the remaining mass.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from pathdep.errors import PathdepError
from pathdep.measure.evalset import build_evalset
from pathdep.measure.plan import icl_positions, make_plan
from pathdep.models import model_shape
from pathdep.probes import compile_probes, select_probes
from pathdep.spec import MeasureSpec
from pathdep.store import Dims, Layout
from pathdep.store.schema import WSTATS
from pathdep.suites.model import Suite
from pathdep.version import __version__

log = logging.getLogger(__name__)
CONTEXT_CAP = 1024  # default context for suites without a spec


def _shapes(suite: Suite) -> list[dict]:
    shapes = []
    for run in suite.runs:
        shape = model_shape(run)
        if shape is None:
            log.warning("run %s: no checkpoint has a readable config.json; its jobs will fail", run.id)
        else:
            shapes.append(shape)
    if not shapes:
        raise PathdepError(
            f"no checkpoint of suite {suite.name!r} has a readable config.json; check the "
            "checkpoint folders (or the hub cache when offline)"
        )
    return shapes


def _context(suite: Suite, cfg: MeasureSpec, shapes: list[dict]) -> int:
    limit = min((s["context"] for s in shapes if s["context"]), default=None)
    spec = suite.meta.get("spec") or {}
    context = cfg.context or (spec.get("model") or {}).get("context") or min(limit or CONTEXT_CAP,
                                                                              CONTEXT_CAP)
    if limit and context > limit:
        raise PathdepError(f"measure context {context} is longer than the models allow ({limit}); "
                           "set measure.context (--context) to at most that")
    return int(context)


def _hidden_layers(cfg: MeasureSpec, n_layers: int) -> list[int]:
    if cfg.hidden_layers is None:
        return list(range(n_layers + 1))
    bad = [la for la in cfg.hidden_layers if not 0 <= la <= n_layers]
    if bad:
        raise PathdepError(f"measure.hidden_layers {bad} are out of range; layers run 0..{n_layers}")
    return sorted(set(cfg.hidden_layers))


def _probes(suite: Suite, cfg: MeasureSpec, tok, context: int):
    """The suite's behaviour probes, tokenised (None when there are none)."""
    probes = select_probes(cfg.probes, suite.meta.get("spec"))
    if not probes:
        return None
    log.info("behaviour probes: %s", ", ".join(f"{p.name} ({len(p.items)})" for p in probes))
    return compile_probes(probes, tok, context, skip_bad=cfg.probes == "auto")


def _seen(suite: Suite) -> str:
    """JSON {run: {item: [steps]}}: when each run saw its tracked facts and injections.

    Read from the sidecar of each run's last checkpoint (suites pathdep
    trained); "" when no run has one.
    """
    out = {}
    for r in suite.runs:
        ck = r.checkpoints[-1] if r.checkpoints else None
        side = Path(ck.path) / "pathdep.json" if ck is not None and ck.path else None
        if side is not None and side.is_file():
            out[r.id] = json.loads(side.read_text()).get("seen") or {}
    return json.dumps(out) if out else ""


def suite_layout(suite: Suite, evalset, cfg: MeasureSpec, tokenizer: str | None = None) -> Layout:
    """The store layout for ``suite`` measured on ``evalset`` with options ``cfg``."""
    shapes = _shapes(suite)
    context = _context(suite, cfg, shapes)
    es = build_evalset(suite, evalset, context=context, n_seq=cfg.eval_sequences, tokenizer=tokenizer,
                       seed=cfg.seed)
    plan = make_plan(es.tokens, bos=es.bos_id, special_ids=es.special_ids,
                     dist_positions=cfg.dist_positions, hidden_positions=cfg.hidden_positions,
                     head_examples=cfg.head_examples, seed=cfg.seed)
    n_layers = max(s["layers"] for s in shapes)
    vocab = max(s["vocab"] for s in shapes)
    full = vocab <= cfg.full_vocab_max
    hlayers = _hidden_layers(cfg, n_layers)
    probes = _probes(suite, cfg, es.tok, context)
    dims = Dims(seq=es.tokens.shape[0], pos=context, sample=len(plan.sample_seq),
                k=vocab if full else cfg.top_k, hsample=len(plan.hsample_seq), hlayer=len(hlayers),
                layer_h=n_layers, head=max(s["heads"] for s in shapes), d=max(s["d"] for s in shapes),
                probe=len(probes.names) if probes else 0, item=probes.n_items if probes else 0,
                wstat=len(WSTATS))
    early, late = icl_positions(context)
    attrs = {
        "spec": json.dumps(suite.meta["spec"]) if suite.meta.get("spec") else "",
        "eval_hash": es.hash, "eval_source": es.source, "tokenizer": es.tokenizer,
        "eval_makeup": json.dumps(es.makeup),
        "icl_early_pos": early, "icl_late_pos": late, "dist_full": full, "vocab_size": vocab,
        "pathdep_version": __version__,
        "architectures": json.dumps(sorted({str(s["type"]) for s in shapes})),
        "measure_options": json.dumps(cfg.model_dump(mode="json")),
        "seen": _seen(suite),
    }
    return Layout(suite=suite.name, runs=suite.run_ids, factors={r.id: r.factors for r in suite.runs},
                  steps=suite.steps, tokens=es.tokens, token_str=es.token_str,
                  prefix_tokens=plan.prefix_tokens, sample_seq=plan.sample_seq,
                  sample_pos=plan.sample_pos, hsample_seq=plan.hsample_seq,
                  hsample_pos=plan.hsample_pos, hlayers=hlayers, dims=dims,
                  logprob_dtype=cfg.logprob_dtype, attrs=attrs, probes=probes)
