"""Command-line flags generated from an analysis's options class, so ``--help`` is its docs.

    @with_options(BasinsOptions, InstabilityOptions)
    def barriers_cmd(suite: Path, options: dict): ...

Every field of the classes becomes a ``--kebab-case`` option with the field's
description and its default in the help text. A flag left out is not passed
(its value is None), so defaults that come from elsewhere (the spec's ``[rl]``
section, say) are not overridden by the command line's. The sparsify and
tuned-lens tools build their command lines from typed config classes the same
way (STYLE.md).
"""

from __future__ import annotations

import functools
import inspect
import types
import typing
from collections.abc import Callable
from typing import Annotated, Any, Literal

import typer
from pydantic import BaseModel

from pathdep.errors import PathdepError


def merged_fields(*classes: type[BaseModel]) -> dict[str, Any]:
    """Field name -> FieldInfo over ``classes`` (first wins); a name typed two ways is an error."""
    out: dict[str, Any] = {}
    for cls in classes:
        for name, f in cls.model_fields.items():
            if name in out and out[name].annotation != f.annotation:
                raise TypeError(f"option {name!r} is typed {out[name].annotation} and "
                                f"{f.annotation} by the classes of one command")
            out.setdefault(name, f)
    return out


def _cli_type(ann) -> Any:
    """The type typer parses for a field annotation: None stripped, Literal as str."""
    args = [a for a in typing.get_args(ann) if a is not type(None)]
    if typing.get_origin(ann) in (typing.Union, types.UnionType):
        if len(args) != 1:
            raise TypeError(f"no command-line type for {ann}")
        return _cli_type(args[0])
    if typing.get_origin(ann) is Literal:
        return str
    if typing.get_origin(ann) is list:  # repeatable, and comma-separated values are split
        return list[str]
    return ann


def _split_lists(value):
    if isinstance(value, (list, tuple)):
        return [x.strip() for v in value for x in str(v).split(",") if x.strip()]
    return value


_METAVARS = {int: "INT", float: "FLOAT", str: "TEXT", list[str]: "VALUE,..."}


def _default_text(default) -> str:
    if default is None:
        return ""
    if isinstance(default, bool):
        return " (default: on)" if default else " (default: off)"
    if isinstance(default, list):
        default = ",".join(map(str, default))
    return f" (default: {default})"


def option_parameters(*classes: type[BaseModel], skip: tuple[str, ...] = ()
                      ) -> list[inspect.Parameter]:
    """Keyword parameters (default None) with typer Option annotations, one per field."""
    params = []
    for name, f in merged_fields(*classes).items():
        if name in skip:
            continue
        ann = _cli_type(f.annotation)
        flag = "--" + name.replace("_", "-")
        decls = (f"{flag}/--no-{name.replace('_', '-')}",) if ann is bool else (flag,)
        help_text = (f.description or "") + _default_text(f.default)
        params.append(inspect.Parameter(
            name, inspect.Parameter.KEYWORD_ONLY, default=None,
            annotation=Annotated[ann | None, typer.Option(
                *decls, help=help_text, show_default=False,
                metavar=None if ann is bool else _METAVARS.get(ann, "VALUE"))]))
    return params


def with_options(*classes: type[BaseModel], skip: tuple[str, ...] = ()
                 ) -> Callable[[Callable], Callable]:
    """Decorate ``fn(..., options: dict)``: the flags of ``classes`` are added to its signature
    and the ones given arrive in ``options`` (a dict of the flags that were set)."""
    def wrap(fn: Callable) -> Callable:
        hints = typing.get_type_hints(fn, include_extras=True)  # resolve string annotations
        own = [p.replace(annotation=hints.get(p.name, p.annotation))
               for p in inspect.signature(fn).parameters.values() if p.name != "options"]
        generated = option_parameters(*classes, skip=skip + tuple(p.name for p in own))
        names = [p.name for p in generated]

        @functools.wraps(fn)
        def command(*args, **kwargs):
            given = {n: _split_lists(kwargs.pop(n)) for n in names if n in kwargs}
            return fn(*args, **kwargs, options={k: v for k, v in given.items() if v is not None})

        command.__signature__ = inspect.Signature(own + generated)  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in own + generated}
        del command.__wrapped__  # typer must read the new signature, not fn's
        return command
    return wrap


def parse_assignments(items: list[str] | None) -> dict[str, dict[str, Any]]:
    """``["basins.max_runs=8", ...]`` -> ``{"basins": {"max_runs": "8"}}`` (values validated
    later by the analysis's options class, see :func:`coerce`; ``none`` is None)."""
    out: dict[str, dict[str, Any]] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        name, dot, field = key.partition(".")
        if not (sep and dot and name and field):
            raise PathdepError(f"--set {item!r} is not understood; write ANALYSIS.OPTION=VALUE, "
                               "e.g. --set circuit_survival.threshold=0.5 (`pathdep analyze "
                               "--list -v` lists the options)")
        out.setdefault(name, {})[field] = None if value.lower() == "none" else value
    return out


def coerce(cls: type[BaseModel], values: dict[str, Any]) -> dict[str, Any]:
    """String values from the command line made to fit list fields (comma-separated)."""
    out = {}
    for k, v in values.items():
        f = cls.model_fields.get(k)
        is_list = f is not None and list in (typing.get_origin(f.annotation),
                                             *map(typing.get_origin, typing.get_args(f.annotation)))
        out[k] = _split_lists([v]) if is_list and isinstance(v, str) else v
    return out
