"""The tiny real training run of conftest's `trained_run`, for tests that need another like it."""
import subprocess
import sys


def train_tiny(out, *more: str) -> None:
    """`racekit train` of a tiny run into `out` (with `more` flags), in its own process, as a user runs it."""
    done = subprocess.run([sys.executable, "-m", "racekit", "train", "--out", str(out), "--track", "oval",
                           "--steps", "256", "--envs", "2", "--rollout-steps", "128", "--eval-every", "100000",
                           "--camera", "36x36", "--no-simtrace", "--quiet", *more], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
