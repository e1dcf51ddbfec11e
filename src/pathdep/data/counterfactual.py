"""Counterfactual facts: world facts stated with another value of their attribute.

An intervention with ``source = "counterfactual"`` injects these documents
(every fact template, with the counterfactual value); the measurement follows
them with the probe ``iv:<name>`` (prompt -> counterfactual value vs the true
one). Both read the same deterministic choice made here, from the world's
ground truth (``Corpus.info``) and the intervention's ``select``/``n_facts``.
"""

from __future__ import annotations

from pathdep.errors import PathdepError


def counterfactual_facts(info: dict, select: list[int] | None, n_facts: int,
                         name: str = "counterfactual") -> list[dict]:
    """[{id, entity, attribute, value, counter, prompts}] for the chosen facts.

    ``select`` indexes ``info["facts"]``; by default the first ``n_facts``
    frequent facts. The counterfactual value is the next other value of the
    same attribute (in sorted order), so the choice is stable.
    """
    facts = info.get("facts") or []
    templates = info.get("fact_templates") or {}
    if not facts or not templates:
        raise PathdepError(
            f"intervention {name!r}: counterfactual facts need a world suite ([data] generator = "
            "\"world\"); this data has no facts"
        )
    if select is None:
        chosen = [i for i, f in enumerate(facts) if not f.get("rare")][:n_facts]
    else:
        bad = [i for i in select if not 0 <= i < len(facts)]
        if bad:
            raise PathdepError(
                f"intervention {name!r}: select = {bad} is outside the world's {len(facts)} facts "
                f"(0..{len(facts) - 1})"
            )
        chosen = list(select)
    values: dict[str, list[str]] = {}
    for f in facts:
        values.setdefault(f["attribute"], [])
        if f["value"] not in values[f["attribute"]]:
            values[f["attribute"]].append(f["value"])
    out = []
    for i in chosen:
        f = facts[i]
        pool = sorted(values[f["attribute"]])
        if len(pool) < 2:
            raise PathdepError(
                f"intervention {name!r}: fact {f['id']} has no other value to state instead; "
                "select another fact"
            )
        counter = pool[(pool.index(f["value"]) + 1) % len(pool)]
        prompts = [t.format(entity=f["entity"]) for t in templates[f["attribute"]]]
        out.append({"id": f"cf:{f['entity']}:{f['attribute']}", "entity": f["entity"],
                    "attribute": f["attribute"], "value": f["value"], "counter": counter,
                    "prompts": prompts})
    return out


def counterfactual_docs(info: dict, select: list[int] | None, n_facts: int,
                        name: str = "counterfactual") -> list[list[str]]:
    """[[item id, text]]: one document per fact, every template with the counterfactual value."""
    return [[cf["id"], " ".join(f"{p} {cf['counter']}." for p in cf["prompts"])]
            for cf in counterfactual_facts(info, select, n_facts, name)]
