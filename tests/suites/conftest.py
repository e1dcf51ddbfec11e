"""Fixtures of the suite tests: a local stand-in for the Hugging Face Hub.

``hub`` starts :class:`tests.hubstub.HubStub` on 127.0.0.1 and points the real
``huggingface_hub`` client at it (HF_ENDPOINT), online, with an empty cache in
tmp_path (HF_HOME / HF_HUB_CACHE). huggingface_hub reads these at import, so its
``constants`` are patched too.
"""

from __future__ import annotations

import pytest
from huggingface_hub import constants

from ..hubstub import HubStub


@pytest.fixture
def hub(tmp_path, monkeypatch):
    stub = HubStub()
    url = stub.start()
    home, cache = tmp_path / "hf", tmp_path / "hf" / "hub"
    cache.mkdir(parents=True)
    for k, v in {"HF_ENDPOINT": url, "HF_HOME": str(home), "HF_HUB_CACHE": str(cache),
                 "HF_HUB_OFFLINE": "0"}.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setattr(constants, "ENDPOINT", url)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE",
                        url + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(constants, "HF_HOME", str(home))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_TELEMETRY", True)
    yield stub
    stub.stop()
