"""`racekit train` as a user runs it (real processes, real signals): the same seed and step budget repeat a
run exactly (another seed does not), killed with SIGKILL it resumes from its last checkpoint, Ctrl-C/SIGTERM
keep the checkpoint and exit 130, a reward function that fails mid-run stops it with exit 2 and the checkpoint
intact, and bad run dirs give one clear line."""
import csv
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from racekit.agent.checkpoint import load_checkpoint
from racekit.agent.logbook import read_evaluations
from racekit.cli import main
from racekit.console.processes import alive  # a zombie counts as ended
from train_helpers import train_tiny

BATCH = 32  # 2 envs x 16 steps per update
TINY = ["--track", "oval", "--envs", "2", "--rollout-steps", "16", "--minibatch", "32", "--epochs", "1",
        "--camera", "48x36", "--frame-stack", "1", "--eval-every", "1000000", "--eval-laps", "1", "--quiet"]
# one torch thread: two, on a 2-core machine that is also simulating, are many times slower
ENV = dict(os.environ, OMP_NUM_THREADS="1")


def racekit(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "racekit", *args], capture_output=True, text=True, env=ENV,
                          timeout=timeout)


def start(*args) -> subprocess.Popen:
    """A training in its own process group, as a shell would start it (so we can signal the group)."""
    return subprocess.Popen([sys.executable, "-m", "racekit", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=ENV, start_new_session=True,
                            preexec_fn=foreground_signals)


def foreground_signals():
    """Ctrl-C as in a terminal's foreground job, even when pytest itself runs in the background
    (a shell's background job inherits SIGINT ignored, and Python keeps it so)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def wait_for_checkpoint(proc: subprocess.Popen, last, min_step: int, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"training ended early ({proc.returncode}): {proc.stderr.read()}")
        # reading while the trainer replaces the file is safe: the rename is atomic
        if last.is_file() and load_checkpoint(last)["global_step"] >= min_step:
            return
        time.sleep(0.2)
    pytest.fail("no checkpoint in time")


def assert_group_gone(proc: subprocess.Popen) -> None:
    """No env worker outlives the trainer."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    pytest.fail("processes of the training were left running")


def metric_steps(run) -> list[int]:
    with open(run / "metrics.csv", newline="") as f:
        return [int(row["global_step"]) for row in csv.DictReader(f)]


def error_lines(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if ln.strip() and not ln.startswith("pybullet build time")]


def test_the_same_seed_and_step_budget_repeat_a_run_exactly_and_another_seed_does_not(trained_run, tmp_path):
    """Seeds make runs repeatable: the rollout workers' envs, the policy's actions, the minibatches and the
    evaluation. (A --minutes budget anneals the learning rate over wall-clock time, so only a step budget
    repeats to the bit: docs/training.md.)"""
    def outcome(run):
        state = load_checkpoint(run / "checkpoints" / "last.pt")
        evaluations = [{k: v for k, v in row.items() if k != "wall_seconds"} for row in read_evaluations(run)]
        return state["global_step"], state["model"], evaluations

    train_tiny(tmp_path / "again")
    train_tiny(tmp_path / "other", "--seed", "1")
    step, weights, evaluations = outcome(trained_run / "tiny")
    again, other = outcome(tmp_path / "again"), outcome(tmp_path / "other")
    assert again[0] == step == 256 and evaluations and again[2] == evaluations
    assert all(torch.equal(weights[k], again[1][k]) for k in weights)
    assert not all(torch.equal(weights[k], other[1][k]) for k in weights)


def test_a_run_killed_with_sigkill_resumes_from_its_last_checkpoint(tmp_path):
    run, last = tmp_path / "run", tmp_path / "run" / "checkpoints" / "last.pt"
    proc = start("train", "--out", str(run), "--steps", "100000", *TINY)
    wait_for_checkpoint(proc, last, 2 * BATCH)
    os.killpg(proc.pid, signal.SIGKILL)  # the trainer and its env workers, at whatever they were doing
    proc.communicate()
    killed = load_checkpoint(last)
    assert killed["global_step"] % BATCH == 0 and killed["update"] == killed["global_step"] // BATCH

    # a few seconds more: `--minutes` bounds this session (`--steps` could only extend the 100000)
    result = racekit("train", "--out", str(run), "--resume", "--minutes", "0.05", "--quiet")
    assert result.returncode == 0, result.stderr
    resumed = load_checkpoint(last)
    final = resumed["global_step"]
    assert f"time budget reached at step {final}; resume with: racekit train --out {run} --resume" in result.stdout
    assert final > killed["global_step"] and resumed["update"] == final // BATCH
    # every update logged exactly once: rows written after the killed checkpoint were redone, not duplicated
    assert metric_steps(run) == list(range(BATCH, final + 1, BATCH))
    # the optimizer went on from its saved state: Adam counted every minibatch step of every update
    adam_steps = {int(s["step"]) for s in resumed["optimizer"]["state"].values()}
    assert adam_steps == {final // BATCH}  # 1 epoch x 1 minibatch per update


def parent_of(pid: int) -> int | None:
    """A process's parent pid from Linux's /proc; None once it is gone."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])  # after "(name) state"
    except OSError:
        return None


def children_of(pid: int) -> list[int]:
    return [int(p.name) for p in Path("/proc").glob("[0-9]*") if parent_of(int(p.name)) == pid and alive(int(p.name))]


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc")
def test_rollout_workers_end_when_their_trainer_is_killed(tmp_path):
    """The trainer alone SIGKILLed (no cleanup runs): its rollout workers see their pipe close and end, instead
    of waiting, orphaned, for ever (each held the trainer's end of its own pipe, inherited at fork)."""
    run, last = tmp_path / "run", tmp_path / "run" / "checkpoints" / "last.pt"
    proc = start("train", "--out", str(run), "--steps", "100000", *TINY)
    wait_for_checkpoint(proc, last, BATCH)
    workers = children_of(proc.pid)
    assert workers  # --envs 2: one rollout worker process
    proc.kill()
    proc.wait()  # not communicate(): a worker left behind holds the pipes open
    proc.stdout.close()
    proc.stderr.close()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(alive(w) for w in workers):
        time.sleep(0.1)
    left = [w for w in workers if alive(w)]
    for w in left:
        os.kill(w, signal.SIGKILL)
    assert not left, f"rollout workers {left} outlived their trainer"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_and_sigterm_keep_the_last_checkpoint_and_exit_130(tmp_path, sig):
    run, last = tmp_path / "run", tmp_path / "run" / "checkpoints" / "last.pt"
    proc = start("train", "--out", str(run), "--steps", "100000", *TINY)
    wait_for_checkpoint(proc, last, BATCH)
    if sig == signal.SIGINT:
        os.killpg(proc.pid, sig)  # Ctrl-C in a terminal signals the whole foreground group
    else:
        proc.send_signal(sig)  # `kill PID` reaches the trainer only
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    step = load_checkpoint(last)["global_step"]
    assert error_lines(stderr)[-1] == (f"racekit: interrupted; the last checkpoint is kept: {last} (step {step}); "
                                       f"resume with: racekit train --out {run} --resume")
    assert "Traceback" not in stderr
    assert_group_gone(proc)
    assert metric_steps(run)[-1] >= step


REWARD_FAILS_LATER = """\
calls = 0


def reward_function(params):
    global calls
    calls += 1
    if calls > 40:  # each env worker: in its 3rd rollout, after two checkpoints
        raise ValueError(f"progress {params['progress']:.1f} is too much for me")
    return 1.0
"""


def test_a_reward_function_failing_mid_run_stops_it_with_exit_2_and_the_checkpoint_intact(tmp_path):
    reward = tmp_path / "reward.py"
    reward.write_text(REWARD_FAILS_LATER)
    run, last = tmp_path / "run", tmp_path / "run" / "checkpoints" / "last.pt"
    result = racekit("train", "--out", str(run), "--reward", str(reward), "--steps", "100000", *TINY)
    assert result.returncode == 2, result.stderr
    lines = error_lines(result.stderr)
    assert lines[-2].startswith(f"racekit: error: {reward} line 8: reward_function raised ValueError: progress ")
    assert lines[-1] == (f"racekit: the last checkpoint is kept: {last} (step {2 * BATCH}); fix the reward file, "
                         f"then resume with: racekit train --out {run} --resume")
    assert "Traceback" not in result.stderr
    state = load_checkpoint(last)
    assert state["global_step"] == 2 * BATCH and state["reward_sha256"]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A finished tiny run trained with a reward file of its own (about 5 s)."""
    tmp = tmp_path_factory.mktemp("finished")
    reward = tmp / "reward.py"
    reward.write_text("def reward_function(params):\n    return 1.0 - params['distance_from_center']\n")
    result = racekit("train", "--out", str(tmp / "run"), "--reward", str(reward), "--steps", str(2 * BATCH), *TINY)
    assert result.returncode == 0, result.stderr
    return tmp / "run", reward


def one_error_line(capsys) -> str:
    captured = capsys.readouterr()
    lines = error_lines(captured.err)
    assert len(lines) == 1, captured.err
    return lines[0]


def test_resuming_a_dir_that_is_not_a_run_is_one_clear_line(tmp_path, capsys):
    assert main(["train", "--out", str(tmp_path), "--resume"]) == 2
    assert one_error_line(capsys) == (f"racekit: error: {tmp_path}: not a racekit run (no config.json and "
                                      f"checkpoints/last.pt) to resume")
    assert main(["evaluate", str(tmp_path), "--track", "oval"]) == 2
    assert f"{tmp_path}: not a racekit run" in one_error_line(capsys)


def test_a_new_run_into_an_existing_run_is_refused(finished_run, capsys):
    run, reward = finished_run
    before = (run / "checkpoints" / "last.pt").read_bytes()
    assert main(["train", "--out", str(run), "--reward", str(reward), *TINY]) == 2
    assert one_error_line(capsys) == (f"racekit: error: {run}: already holds a run; use --resume to continue it "
                                      f"or choose another --out")
    assert (run / "checkpoints" / "last.pt").read_bytes() == before


def test_a_corrupt_checkpoint_is_one_clear_line(finished_run, tmp_path, capsys):
    run = shutil.copytree(finished_run[0], tmp_path / "run")
    last = run / "checkpoints" / "last.pt"
    last.write_bytes(os.urandom(3000))
    assert main(["train", "--out", str(run), "--resume", "--steps", str(4 * BATCH)]) == 2
    assert one_error_line(capsys).startswith(f"racekit: error: {last}: corrupt checkpoint (")
    assert main(["evaluate", str(run), "--checkpoint", "last"]) == 2
    assert one_error_line(capsys).startswith(f"racekit: error: {last}: corrupt checkpoint (")


def test_a_reward_file_changed_since_the_start_is_one_warning_with_both_sha256s(finished_run, tmp_path):
    import hashlib

    run, reward = finished_run
    before = hashlib.sha256(reward.read_bytes()).hexdigest()
    copy = shutil.copytree(run, tmp_path / "run")
    reward.write_text(reward.read_text() + "# tuned\n")
    try:
        after = hashlib.sha256(reward.read_bytes()).hexdigest()
        result = racekit("train", "--out", str(copy), "--resume")  # finished: warns, then has nothing to do
    finally:
        reward.write_text(reward.read_text().replace("# tuned\n", ""))
    assert result.returncode == 0, result.stderr
    warnings = [ln for ln in (result.stdout + result.stderr).splitlines() if "warning" in ln and "reward" in ln]
    assert len(warnings) == 1
    assert before in warnings[0] and after in warnings[0] and str(reward) in warnings[0]
    assert "changed since the run started" in warnings[0]
