"""Train a spec and stop it (KeyboardInterrupt) right after one checkpoint is saved."""

import pytest

from pathdep.train import loop, train


def train_stopping_after(spec, out, step: int, monkeypatch) -> None:
    """``train(spec, out)``, interrupted once the checkpoint of ``step`` is on disk."""
    real = loop._save_checkpoint

    def stop_after(out_, plan, model, opt, at, *a):
        real(out_, plan, model, opt, at, *a)
        if at == step:
            raise KeyboardInterrupt

    monkeypatch.setattr(loop, "_save_checkpoint", stop_after)
    with pytest.raises(KeyboardInterrupt):
        train(spec, out)
    monkeypatch.setattr(loop, "_save_checkpoint", real)
