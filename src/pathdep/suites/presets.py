"""Public suites as presets: the exact hub repo ids and checkpoint schedules.

    pathdep suites                                   # list the presets
    load_suite("polypythias-160m", steps="0:1000")   # one preset, narrowed

Every preset is a builder below, registered in :data:`PRESETS`, the one place
to add a suite. Facts come from shared/reference/public-suites.md (its section
numbers are cited as §N, issues as repo#N). Revisions are always pinned: the
``main`` branch of several public repos is empty or once held the wrong step.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

from pathdep.errors import PathdepError
from pathdep.suites.model import Checkpoint, FactorValue, Run, Suite

log = logging.getLogger(__name__)

# --- Pythia (§2) -------------------------------------------------------------
PYTHIA_SIZES = ("14m", "31m", "70m", "160m", "410m", "1b", "1.4b", "2.8b", "6.9b", "12b")
PYTHIA_STEPS = [0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, *range(1000, 143_000 + 1, 1000)]
PYTHIA_TOKENS_PER_STEP = 2_097_152  # 1024 sequences x 2048 tokens
PYTHIA_CAVEATS = [
    "step0 = step1 (= step2) weights in every Pythia run (pythia#83, #198): early "
    "checkpoints contain duplicates; see pathdep.suites.duplicates.drop_duplicates",
    "pythia-2.8b: 76 step branches are bit-identical to main, only 68 of 154 unique "
    "(pythia#205, #195); hash-check before use",
    "pythia-12b step50000/step58000 serve the final model's first shard (pythia#206)",
]

# --- PolyPythias (§3) --------------------------------------------------------
POLYPYTHIAS_SIZES = ("14m", "31m", "70m", "160m", "410m")
POLYPYTHIAS_SEEDS = range(10)
# Weights missing on the hub (pythia#202): (size, seed) -> steps left out.
POLYPYTHIAS_MISSING: dict[tuple[str, int], tuple[int, ...]] = {
    ("410m", 9): (40_000,),
    ("410m", 6): (88_000,),
    ("410m", 2): (111_000,),
}
POLYPYTHIAS_NOTES = [
    "seed changes both the weight init and the data order (pythia#142)",
    "seed0 is the original EleutherAI/pythia-{size} run (trained with seed 1234, no suffix)",
    "main of many seed repos holds only .gitattributes: revisions are always pinned",
    "410m seeds 3 and 4 are the outlier runs of the PolyPythias paper",
]
DECOUPLED_CAVEAT = (
    "pythia#203: at step1 all four of data-seed1/2 and weight-seed1/2 are numerically "
    "identical, matching the data-seed init; the weight-seed runs do not descend from their "
    "own step0, so the weight-seed ablation may not vary the init as labelled"
)

# --- Stanford CRFM Mistral GPT-2 (§1) ----------------------------------------
CRFM_STEPS = [
    *range(0, 100, 10),
    *range(100, 2000, 50),
    *range(2000, 20_000, 100),
    *range(20_000, 400_000 + 1, 1000),
]
CRFM_TOKENS_PER_STEP = 524_288  # 512 sequences x 1024 tokens
CRFM_RUNS = {  # size -> (name, seed); same seed number = paired small/medium runs
    "small": (("alias", 21), ("battlestar", 49), ("caprica", 81), ("darkmatter", 343),
              ("expanse", 777)),
    "medium": (("arwen", 21), ("beren", 49), ("celebrimbor", 81), ("durin", 343),
               ("eowyn", 777)),
}
CRFM_NOTES = [
    "loaded with attn_implementation='eager': GPT-2's SDPA/flash paths ignored "
    "scale_attn_by_inverse_layer_idx (transformers#44380, PR #44397)",
    "main once held step 90k, not 400k (stanford-crfm/mistral#182): revisions are pinned",
    "609 checkpoints (the README's '600' is rounded)",
    "seed sets init and dropout; data order too since mistral PR #62 (not verified for "
    "the released runs)",
]

# --- MultiBERTs (§4) ---------------------------------------------------------
MULTIBERTS_SEEDS = range(25)
MULTIBERTS_CHECKPOINTED_SEEDS = range(5)  # only seeds 0-4 have intermediate checkpoints
MULTIBERTS_STEPS = [k * 1000 for k in (*range(0, 201, 20), *range(300, 2001, 100))]
MULTIBERTS_TOKENS_PER_STEP = 131_072  # 256 sequences x 512 tokens

Kind = Literal["causal-lm", "masked-lm"]
Built = tuple[list[Run], dict[str, Any]]


def _hub_run(
    run_id: str,
    repo: str,
    steps: Iterable[int],
    revision: Callable[[int], str],
    tokens_per_step: int,
    factors: dict[str, FactorValue],
    **run_fields: Any,
) -> Run:
    """A run whose checkpoints are revisions (branches) of one hub repo."""
    checkpoints = [
        Checkpoint(step=s, tokens_seen=s * tokens_per_step, repo=repo, revision=revision(s))
        for s in steps
    ]
    return Run(id=run_id, factors=factors, checkpoints=checkpoints, **run_fields)


def _pythia_step(step: int) -> str:
    return f"step{step}"


def _pythia(sizes: Iterable[str], deduped: bool) -> Built:
    """One run per size: EleutherAI/pythia-{size}[-deduped], 154 step branches each."""
    suffix = "-deduped" if deduped else ""
    runs = [
        _hub_run(
            f"pythia-{size}{suffix}",
            f"EleutherAI/pythia-{size}{suffix}",
            PYTHIA_STEPS,
            _pythia_step,
            PYTHIA_TOKENS_PER_STEP,
            {"size": size, "deduped": deduped},
            tokenizer=f"EleutherAI/pythia-{size}",  # GPT-NeoX-20B BPE; main = step143000
        )
        for size in sizes
    ]
    meta = {
        "data": "the deduplicated Pile" if deduped else "the Pile",
        "note": "every size sees the same data in the same order (seed 1234)",
        "tokens_per_step": PYTHIA_TOKENS_PER_STEP,
        "caveats": PYTHIA_CAVEATS,
    }
    return runs, meta


def _polypythias_run(size: str, seed: int, missing: list[dict]) -> Run:
    """seed0 is the original unsuffixed repo; seeds 1-9 are pythia-{size}-seed{N}."""
    repo = f"EleutherAI/pythia-{size}" + (f"-seed{seed}" if seed else "")
    gaps = POLYPYTHIAS_MISSING.get((size, seed), ())
    missing += [{"repo": repo, "step": s, "source": "pythia#202"} for s in gaps]
    return _hub_run(
        f"pythia-{size}-seed{seed}",
        repo,
        [s for s in PYTHIA_STEPS if s not in gaps],
        _pythia_step,
        PYTHIA_TOKENS_PER_STEP,
        {"seed": seed, "size": size},
        tokenizer=f"EleutherAI/pythia-{size}",
    )


def _polypythias(sizes: Iterable[str]) -> Built:
    """Ten seeds per size; factor ``seed`` changes both init and data order."""
    missing: list[dict] = []
    runs = [_polypythias_run(size, seed, missing) for size in sizes for seed in POLYPYTHIAS_SEEDS]
    meta = {
        "factors": {"seed": "init and data order together (0 = the original run)"},
        "notes": POLYPYTHIAS_NOTES,
        "missing_checkpoints": missing,
        "tokens_per_step": PYTHIA_TOKENS_PER_STEP,
        "caveats": PYTHIA_CAVEATS[:1],
    }
    return runs, meta


def _polypythias_decoupled() -> Built:
    """pythia-160m-data-seed{1,2,3} (init fixed) and -weight-seed{1,2,3} (data fixed)."""
    runs = []
    for ablation, varied in (("data-seed", "data_seed"), ("weight-seed", "seed")):
        for n in (1, 2, 3):
            factors: dict[str, FactorValue] = {"seed": None, "data_seed": None, "size": "160m"}
            factors |= {varied: n, "ablation": ablation}
            name = f"pythia-160m-{ablation}{n}"
            runs.append(
                _hub_run(name, f"EleutherAI/{name}", PYTHIA_STEPS, _pythia_step,
                         PYTHIA_TOKENS_PER_STEP, factors, tokenizer="EleutherAI/pythia-160m")
            )
    meta = {
        "factors": {
            "data_seed": "data order only; the init is held fixed (seed=None)",
            "seed": "weight init only; the data order is held fixed (data_seed=None)",
        },
        "caveats": [DECOUPLED_CAVEAT, PYTHIA_CAVEATS[0]],
        "tokens_per_step": PYTHIA_TOKENS_PER_STEP,
    }
    return runs, meta


def _crfm_step(step: int) -> str:
    return f"checkpoint-{step}"


def _crfm(sizes: Iterable[str]) -> Built:
    """Stanford CRFM GPT-2 runs: stanford-crfm/{name}-gpt2-{size}-x{seed}, 609 branches."""
    runs = [
        _hub_run(
            f"{name}-gpt2-{size}-x{seed}",
            f"stanford-crfm/{name}-gpt2-{size}-x{seed}",
            CRFM_STEPS,
            _crfm_step,
            CRFM_TOKENS_PER_STEP,
            {"seed": seed, "size": size},
            tokenizer="gpt2",
            load_kwargs={"attn_implementation": "eager"},
        )
        for size in sizes
        for name, seed in CRFM_RUNS[size]
    ]
    meta = {"data": "OpenWebText", "tokens_per_step": CRFM_TOKENS_PER_STEP, "notes": CRFM_NOTES}
    return runs, meta


def _multiberts() -> Built:
    """25 BERT-Base seeds; seeds 0-4 also have 29 intermediate checkpoints (separate repos)."""
    runs = []
    for seed in MULTIBERTS_SEEDS:
        if seed in MULTIBERTS_CHECKPOINTED_SEEDS:
            cks = [(s, f"google/multiberts-seed_{seed}-step_{s // 1000}k") for s in MULTIBERTS_STEPS]
        else:
            cks = [(MULTIBERTS_STEPS[-1], f"google/multiberts-seed_{seed}")]
        checkpoints = [
            Checkpoint(step=s, tokens_seen=s * MULTIBERTS_TOKENS_PER_STEP, repo=repo, revision="main")
            for s, repo in cks
        ]
        runs.append(Run(id=f"multiberts-seed_{seed}", factors={"seed": seed},
                        checkpoints=checkpoints, tokenizer=f"google/multiberts-seed_{seed}"))
    meta = {
        "notes": [
            "masked-LM (MLM+NSP) encoders: load with AutoModelForMaskedLM, not as causal LMs",
            "seed changes both the init and the order of training instances",
            "intermediate checkpoints are separate repos (step_{N}k), not revisions",
        ],
        "tokens_per_step": MULTIBERTS_TOKENS_PER_STEP,
    }
    return runs, meta


@dataclass(frozen=True)
class Preset:
    """A registered public suite: what it is and how to build it."""

    description: str
    build: Callable[[], Built]
    kind: Kind = "causal-lm"


PRESETS: dict[str, Preset] = {
    "pythia": Preset("Pythia on the Pile, one run per size 14m-12b", partial(_pythia, PYTHIA_SIZES, False)),
    "pythia-deduped": Preset("Pythia on the deduplicated Pile, one run per size 14m-12b",
                             partial(_pythia, PYTHIA_SIZES, True)),
    **{f"pythia-{s}": Preset(f"Pythia {s} on the Pile (one run)", partial(_pythia, [s], False))
       for s in PYTHIA_SIZES},
    **{f"pythia-{s}-deduped": Preset(f"Pythia {s} on the deduplicated Pile (one run)",
                                     partial(_pythia, [s], True)) for s in PYTHIA_SIZES},
    "polypythias": Preset("PolyPythias: 10 seeds (init + data order) x 5 sizes 14m-410m",
                          partial(_polypythias, POLYPYTHIAS_SIZES)),
    **{f"polypythias-{s}": Preset(f"PolyPythias {s}: 10 seeds, each changing init and data order",
                                  partial(_polypythias, [s])) for s in POLYPYTHIAS_SIZES},
    "polypythias-160m-decoupled": Preset(
        "PolyPythias 160m: 3 data-order seeds (init fixed) + 3 init seeds (data fixed); "
        "caveat pythia#203: the weight-seed runs may not vary the init", _polypythias_decoupled),
    "crfm-gpt2-small": Preset("Stanford CRFM GPT-2 small: 5 seeds, 609 checkpoints each",
                              partial(_crfm, ["small"])),
    "crfm-gpt2-medium": Preset("Stanford CRFM GPT-2 medium: 5 seeds, 609 checkpoints each",
                               partial(_crfm, ["medium"])),
    "crfm-gpt2": Preset("Stanford CRFM GPT-2 small and medium: 5 paired seeds each",
                        partial(_crfm, ["small", "medium"])),
    "multiberts": Preset("MultiBERTs: 25 BERT-Base seeds (masked LM, not loadable as causal LM)",
                         _multiberts, kind="masked-lm"),
}


def get_preset(name: str) -> Suite:
    """Build the suite a preset names; unknown names suggest the nearest ones."""
    key = name.strip().lower()
    preset = PRESETS.get(key)
    if preset is None:
        near = difflib.get_close_matches(key, list(PRESETS), n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(near)}? " if near else ""
        raise PathdepError(
            f"{name!r} is neither a suite folder, a manifest file nor a preset; {hint}"
            "list the presets with `pathdep suites` (pathdep.suites.presets.list_presets())"
        )
    runs, meta = preset.build()
    for gap in meta.get("missing_checkpoints", []):
        log.info("preset %s: %s@step%d has no weights on the hub (%s); left out",
                 key, gap["repo"], gap["step"], gap["source"])
    return Suite(
        name=key,
        kind=preset.kind,
        runs=runs,
        source=f"preset:{key}",
        meta={"description": preset.description, **meta},
    )


def list_presets() -> list[dict]:
    """One row per preset: name, description, kind, n_runs, n_checkpoints, loadable."""
    rows = []
    for name, preset in PRESETS.items():
        runs, _ = preset.build()
        rows.append(
            {
                "name": name,
                "description": preset.description,
                "kind": preset.kind,
                "n_runs": len(runs),
                "n_checkpoints": sum(len(r.checkpoints) for r in runs),
                "loadable": preset.kind == "causal-lm",
            }
        )
    return rows
