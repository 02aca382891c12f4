"""Hyperparameter search with Ray Tune: `racekit tune`.

Each trial is a normal `racekit train` run in a run directory of its own (OUT/trial-ID), started as a
subprocess with the trial's PPO settings and the search's track, reward, seed and time budget. The
trial reports each of the run's evaluations to Tune as it appears in evaluations.jsonl, and Tune's ASHA
scheduler stops the trials whose score falls behind the others' at the same number of evaluations. A
stopped trial's trainer stops with it (Ray kills the trial's processes; checkpoints are written atomically,
so the last one is whole), so every trial's directory can be evaluated, exported or resumed like any run.

The score of an evaluation: its lap completion (0-100) while laps are left unfinished; once every lap is
completed, 100 plus 100 over the mean lap time in seconds. A run that finishes its laps always beats one
that does not, and among those the faster one wins.

Searched (what DeepRacer users tune; the keys are `racekit train`'s flags): learning rate, entropy bonus,
discount, minibatch ("batch size"), epochs and rollout length. The search draws from the seed, so the same
`--seed` proposes the same trials.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from racekit.agent.logbook import read_evaluations

SEARCH_SPACE = {  # flag: (kind, arguments)
    "--learning-rate": ("loguniform", (1e-4, 1e-3)),
    "--entropy": ("loguniform", (1e-3, 3e-2)),
    "--discount": ("choice", ([0.95, 0.99, 0.995, 0.999],)),
    "--minibatch": ("choice", ([64, 128, 256, 512],)),
    "--epochs": ("choice", ([3, 4, 6, 8],)),
    "--rollout-steps": ("choice", ([128, 256, 512],)),
}
POLL_SECONDS = 0.5
FINISHED = "racekit tune: the trainer finished with exit status"  # the trial's last log line, unless stopped


def score(evaluation: dict) -> float:
    if evaluation["completion"] >= 100 and evaluation.get("mean_lap_time"):
        return 100.0 + 100.0 / evaluation["mean_lap_time"]
    return float(evaluation["completion"])


def search_space() -> dict:
    from ray import tune

    return {flag: getattr(tune, kind)(*args) for flag, (kind, args) in SEARCH_SPACE.items()}


def train_command(base: list[str], settings: dict, out: Path) -> list[str]:
    """The `racekit train` line of a trial: the search's own options, then the trial's settings."""
    flags = [str(part) for flag, value in sorted(settings.items()) for part in (flag, f"{value:.3g}"
                                                                                 if isinstance(value, float) else value)]
    return ["racekit", "train", "--out", str(out), *base, *flags]


def guarded(argv: list[str]) -> None:
    """`python -m racekit.agent.tune PARENT_PID ARGS...`: `racekit ARGS...`, sent SIGTERM when the trial
    that started it goes (Linux's PR_SET_PDEATHSIG), so a trial Ray kills never leaves a trainer running."""
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the trial's own SIGTERM on a normal stop still works
        pass
    if os.getppid() != int(argv[0]):  # the trial went before the guard was set
        sys.exit(130)
    os.execv(sys.executable, [sys.executable, "-m", "racekit", *argv[1:]])


def trial(settings: dict, base: list[str], root: str) -> None:
    """The Tune trainable: runs one `racekit train` and reports its evaluations as they come."""
    from ray import tune

    run_dir = Path(root) / f"trial-{tune.get_context().get_trial_id()}"
    command = train_command(base, settings, run_dir)
    log = run_dir.with_suffix(".log")
    seen, best = 0, None
    with log.open("w") as output:
        proc = subprocess.Popen([sys.executable, "-m", "racekit.agent.tune", str(os.getpid()), *command[1:]],
                                stdout=output, stderr=subprocess.STDOUT)
        try:
            while True:
                finished = proc.poll() is not None
                if finished:  # noted before the last reports, which may make the scheduler stop the trial
                    with log.open("a") as tail:  # a stopped trial's trainer is killed before it gets here
                        tail.write(f"{FINISHED} {proc.returncode}\n")
                for evaluation in read_evaluations(run_dir, seen):
                    seen += 1
                    value = score(evaluation)
                    best = value if best is None else max(best, value)
                    tune.report({"score": value, "best_score": best, "evaluations": seen,
                                 "global_step": evaluation["global_step"], "completion": evaluation["completion"],
                                 "mean_lap_time": evaluation.get("mean_lap_time") or 0.0,
                                 "clean_laps": evaluation["clean_laps"], "run_dir": str(run_dir)})
                if finished:
                    break
                time.sleep(POLL_SECONDS)
        finally:
            if proc.poll() is None:  # stopped by the scheduler: the trainer keeps its checkpoint and exits
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    proc.kill()
    if proc.returncode != 0:
        lines = [ln for ln in log.read_text().splitlines() if ln.startswith("racekit:")]
        raise RuntimeError(lines[0] if lines else f"racekit train exited with {proc.returncode}; see {log}")


def run_search(base: list[str], out: Path, trials: int, seed: int, cpus_per_trial: float, address: str,
               grace_evaluations: int = 2) -> list[dict]:
    """Runs the search; returns one row per trial (settings, scores, run directory, status), best first."""
    import ray
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search import BasicVariantGenerator

    kwargs = {"include_dashboard": False, "logging_level": "warning", "log_to_driver": False}
    started = not ray.is_initialized()
    if started:
        ray.init(address=address, **kwargs)
    try:
        scheduler = ASHAScheduler(time_attr="evaluations", grace_period=grace_evaluations, reduction_factor=2,
                                  max_t=10_000)
        tuner = tune.Tuner(
            tune.with_resources(tune.with_parameters(trial, base=base, root=str(out)), {"cpu": cpus_per_trial}),
            param_space=search_space(),
            tune_config=tune.TuneConfig(metric="score", mode="max", num_samples=trials, scheduler=scheduler,
                                        search_alg=BasicVariantGenerator(random_state=seed)),
            run_config=tune.RunConfig(name="tune", storage_path=str(out.resolve()), verbose=0))
        grid = tuner.fit()
    finally:
        if started:
            ray.shutdown()
    rows = []
    for result in grid:
        metrics, history = result.metrics or {}, result.metrics_dataframe
        evaluations = int(metrics.get("evaluations") or 0)
        run_dir = metrics.get("run_dir")
        log = Path(run_dir).with_suffix(".log") if run_dir else None
        stopped = bool(log and log.exists() and FINISHED not in log.read_text())
        rows.append({"settings": {k: result.config[k] for k in SEARCH_SPACE}, "evaluations": evaluations,
                     "stopped_early": stopped,
                     "best_score": float(history["score"].max()) if history is not None and len(history) else None,
                     "last_score": metrics.get("score"), "run_dir": run_dir,
                     "error": str(result.error).strip().splitlines()[-1] if result.error else None})
    rows.sort(key=lambda r: -1e9 if r["best_score"] is None else -r["best_score"])
    return rows


if __name__ == "__main__":
    guarded(sys.argv[1:])
