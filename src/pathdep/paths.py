"""Names that become paths, and the rule that nothing is written outside the output folder.

Run, variant, branch, suite, intervention, probe and prompt-set names end up as
folder or file names (``<out>/runs/<run>/...``). One pattern, checked in one
place, keeps them from climbing out of ``--out``: a name starts with a letter,
digit or underscore (so never ``.`` or ``..``), holds only letters, digits and
``_ . + : -`` (no ``/`` or ``\\``, so never an absolute path), and is at most
128 characters. :func:`inside` catches the last way out, a symlink inside the
output folder that points elsewhere.
"""

from __future__ import annotations

import re
from pathlib import Path

from pathdep.errors import PathdepError

NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.+:-]{0,127}$"
NAME = re.compile(NAME_PATTERN)
NAME_RULE = ("start with a letter, digit or '_', use only letters, digits and '_ . + : -' "
             "(no '/' or '..'), at most 128 characters")


def check_name(kind: str, name: str) -> str:
    """``name`` if it is safe as a file name, else a ValueError that says the rule.

    >>> check_name("run", "seed0-data1")
    'seed0-data1'
    >>> check_name("run", "../escaped")
    Traceback (most recent call last):
    ...
    ValueError: run name '../escaped' is not a safe file name: start with a letter, digit or '_', use only letters, digits and '_ . + : -' (no '/' or '..'), at most 128 characters
    """
    if not isinstance(name, str) or not NAME.match(name):
        raise ValueError(f"{kind} name {name!r} is not a safe file name: {NAME_RULE}")
    return name


def inside(root: str | Path, path: str | Path) -> Path:
    """``path`` if it resolves (symlinks followed) to ``root`` or below, else a PathdepError."""
    root_r, path_r = Path(root).resolve(), Path(path).resolve()
    if path_r != root_r and root_r not in path_r.parents:
        raise PathdepError(
            f"{path} resolves to {path_r}, outside the output folder {root_r} (a symlink?); "
            "pathdep writes only inside --out: remove the link or choose another --out")
    return Path(path)
