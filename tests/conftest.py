"""Fixtures shared by several test files."""
import pytest


@pytest.fixture
def one_torch_thread():
    """One intra-op thread: far faster than two on a 2-core machine that is also running env processes."""
    import torch  # here, not at the top: most tests never load torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread here and in the learner of a training in this process (train() reads
    OMP_NUM_THREADS), for a whole test module: the 2 cores simulate."""
    import torch

    before = torch.get_num_threads()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OMP_NUM_THREADS", "1")
        torch.set_num_threads(1)
        yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory):
    """A tiny real run, as `racekit train` writes it (a few seconds of training), trained once per test process
    (each xdist worker): never changed; tests take a copy of it through `real_run`."""
    from train_helpers import train_tiny

    root = tmp_path_factory.mktemp("trained") / "runs"
    train_tiny(root / "tiny")
    return root


@pytest.fixture(scope="module")
def real_run(trained_run, tmp_path_factory):
    """A runs folder holding `tiny`, the tiny real run of `trained_run`, copied for this test module (its tests
    export, resume, import and race in it, as they did when each module trained its own)."""
    import shutil

    root = tmp_path_factory.mktemp("real") / "runs"
    shutil.copytree(trained_run, root)  # copy2: the files' times kept, so the run reads as it was written
    return root
