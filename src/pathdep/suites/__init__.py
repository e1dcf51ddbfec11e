"""Suites: named runs with their checkpoints, trained here or published on the hub."""

from pathdep.suites.integrity import AuditReport, Finding, audit
from pathdep.suites.load import load_suite, read_manifest, select
from pathdep.suites.model import Checkpoint, Run, Suite
from pathdep.suites.run_ids import match_run_ids, unknown_run_message
from pathdep.suites.where import checkpoint_path

__all__ = [
    "AuditReport",
    "Checkpoint",
    "Finding",
    "Run",
    "Suite",
    "audit",
    "checkpoint_path",
    "load_suite",
    "match_run_ids",
    "read_manifest",
    "select",
    "unknown_run_message",
]
