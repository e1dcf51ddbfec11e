"""Behaviour probes: items of a prompt with right and wrong continuations, scored per checkpoint.

    from pathdep.probes import select_probes, compile_probes, score_probes
    probes = select_probes("auto", suite.meta["spec"])      # world suites: the world battery
    compiled = compile_probes(probes, tokenizer, context=128)
    scores = score_probes(model, compiled)                   # accuracy, margin, per item

Modules: core (a probe is data; TOML/JSONL files), world (probes from the
world generator's ground truth), registry (the one list; ``pathdep ls probes``),
compile (tokenised rows), score (one batched forward pass per batch).
"""

from pathdep.probes.compile import CompiledProbes, compile_probes
from pathdep.probes.core import Item, Probe, load_probe_file
from pathdep.probes.registry import REGISTRY, list_probes, select_probes
from pathdep.probes.score import ProbeScores, score_probes

__all__ = [
    "REGISTRY",
    "CompiledProbes",
    "Item",
    "Probe",
    "ProbeScores",
    "compile_probes",
    "list_probes",
    "load_probe_file",
    "score_probes",
    "select_probes",
]
