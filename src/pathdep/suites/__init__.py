"""Suites: named runs with their checkpoints, trained here or published on the hub."""

from pathdep.suites.load import load_suite, read_manifest, select
from pathdep.suites.model import Checkpoint, Run, Suite

__all__ = [
    "Checkpoint",
    "Run",
    "Suite",
    "load_suite",
    "read_manifest",
    "select",
]
