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
