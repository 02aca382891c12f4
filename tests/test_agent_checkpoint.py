"""Checkpoint files: whole or absent, even when Ctrl-C or SIGTERM comes while one is written."""
import os
import pickle
import signal

import pytest
import torch

from racekit.agent.checkpoint import load_checkpoint, save_checkpoint
from racekit.agent.train import _raise_interrupt


class SignalsWhilePickled:
    """Sends this process `sig` while torch.save is pickling it: a signal in the middle of a write."""

    def __init__(self, sig: int):
        self.sig = sig

    def __reduce__(self):
        os.kill(os.getpid(), self.sig)
        return (int, (7,))


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_signal_during_the_write_waits_until_the_checkpoint_is_whole(tmp_path, sig):
    path = tmp_path / "last.pt"
    state = {"model": {"w": torch.arange(100_000.0)}, "optimizer": {}, "global_step": 3, "run": {},
             "late": SignalsWhilePickled(sig)}
    # Python's own Ctrl-C handler, as in `racekit train` (a pytest-xdist worker ignores SIGINT)
    outer_ctrl_c = signal.signal(signal.SIGINT, signal.default_int_handler)
    ctrl_c = signal.getsignal(signal.SIGINT)
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)  # as train() handles SIGTERM
    try:
        with pytest.raises(KeyboardInterrupt):  # delivered, but only once the file is in place
            save_checkpoint(path, state)
        assert signal.getsignal(signal.SIGTERM) is _raise_interrupt  # the handlers are back
        assert signal.getsignal(signal.SIGINT) is ctrl_c
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, outer_ctrl_c)
    saved = load_checkpoint(path)
    assert saved["late"] == 7 and saved["global_step"] == 3
    assert torch.equal(saved["model"]["w"], torch.arange(100_000.0))
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_a_failed_write_leaves_the_previous_checkpoint_and_no_temporary_file(tmp_path):
    path = tmp_path / "last.pt"
    save_checkpoint(path, {"model": {}, "optimizer": {}, "global_step": 1, "run": {}})
    with pytest.raises((pickle.PicklingError, AttributeError)):  # a lambda cannot be pickled
        save_checkpoint(path, {"model": {}, "optimizer": {}, "global_step": 2, "run": {}, "bad": lambda: 0})
    assert load_checkpoint(path)["global_step"] == 1
    assert list(tmp_path.iterdir()) == [path]
