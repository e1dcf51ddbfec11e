"""The package version, importable without importing pathdep's public API."""

__version__ = "0.1.0"
