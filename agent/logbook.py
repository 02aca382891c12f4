"""A run's records: metrics.csv, episodes.csv, TensorBoard events, evaluations.jsonl and the training-curve
picture. episodes.csv has a row per finished training episode: the env process, its episode number there,
the track (what load_track takes) and whether it ran reversed, its steps, return, progress and how it
ended; global_step is the run's step count when it ended. `better` ranks evaluations: the one the run keeps as
its `best` checkpoint, which the console shows too."""
from __future__ import annotations

import csv
import json
import sys
import types
from pathlib import Path

from racekit.agent.signals import signals_held

FIELDS = ["update", "global_step", "wall_seconds", "steps_per_second", "episodes", "mean_return", "mean_progress",
          "laps", "best_lap_time", "policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction",
          "learning_rate"]
# a SAC run's columns after those (agent/sac.py's loss terms; its actor's entropy goes in "entropy")
SAC_FIELDS = ["critic_loss", "actor_loss", "alpha", "alpha_loss", "q_mean", "gradient_updates", "updates_per_second",
              "replay_ratio", "buffer"]
EPISODE_FIELDS = ["global_step", "env", "episode", "track", "reversed", "steps", "return", "progress",
                  "termination"]


class Logbook:
    def __init__(self, run_dir: Path, resume_step: int = 0, extra_fields: list[str] | None = None):
        self.run_dir, self.fields = run_dir, FIELDS + list(extra_fields or [])
        self.csv_path = run_dir / "metrics.csv"
        self.evals_path = run_dir / "evaluations.jsonl"
        self.episodes_path = run_dir / "episodes.csv"
        if resume_step:
            self._drop_rows_after(resume_step)  # rows logged after the checkpoint are redone
        else:
            for p in (self.csv_path, self.evals_path, self.episodes_path):
                p.unlink(missing_ok=True)
        new = not self.csv_path.exists()
        self._csv = open(self.csv_path, "a", newline="")
        self._writer = csv.DictWriter(self._csv, fieldnames=self.fields)
        if new:
            self._writer.writeheader()
        self._episodes_csv = self._episodes = None  # opened at the first finished episode
        # tensorboard imports all of TensorFlow when it finds it installed (seconds, hundreds of MB, its
        # threads); its own marker module says to use its stub, which is all a SummaryWriter needs
        sys.modules.setdefault("tensorboard.compat.notf", types.ModuleType("tensorboard.compat.notf"))
        from torch.utils.tensorboard import SummaryWriter

        self.tensorboard = SummaryWriter(str(run_dir / "tensorboard"), purge_step=resume_step or None)

    def _drop_rows_after(self, step: int) -> None:
        for path, key, fields in ((self.csv_path, None, self.fields), (self.evals_path, "global_step", None),
                                  (self.episodes_path, None, EPISODE_FIELDS)):
            if not path.exists():
                continue
            if key is None:
                with open(path, newline="") as f:
                    rows = [r for r in csv.DictReader(f) if int(r["global_step"]) <= step]
                if not rows and path == self.episodes_path:
                    path.unlink()  # no header-only file: it is written with its first row
                    continue
                with open(path, "w", newline="") as f:
                    writer = csv.DictWriter(f, fieldnames=fields)
                    writer.writeheader()
                    writer.writerows(rows)
            else:
                lines = [ln for ln in path.read_text().splitlines() if ln and json.loads(ln)[key] <= step]
                path.write_text("".join(ln + "\n" for ln in lines))

    def log(self, row: dict) -> None:
        with signals_held():  # a stop waits for the row (agent/signals.py: TensorBoard's writer)
            self._writer.writerow({k: row.get(k, "") for k in self.fields})
            self._csv.flush()
            for key, value in row.items():
                if key not in ("update", "global_step") and isinstance(value, (int, float)):
                    self.tensorboard.add_scalar(f"train/{key}", value, row["global_step"])

    def log_episodes(self, records: list[dict], step: int, envs: int) -> None:
        """A rollout's finished episodes (agent.rollout.EpisodeStats.records), the rollout starting at `step`."""
        if records and self._episodes is None:
            new = not self.episodes_path.exists()
            self._episodes_csv = open(self.episodes_path, "a", newline="")
            self._episodes = csv.DictWriter(self._episodes_csv, fieldnames=EPISODE_FIELDS)
            if new:
                self._episodes.writeheader()
        for r in records:
            row = {k: r.get(k, "") for k in EPISODE_FIELDS}
            row["global_step"] = step + (r["t"] + 1) * envs
            row["return"], row["progress"] = round(r["return"], 4), round(r["progress"], 2)
            self._episodes.writerow(row)
        if records:
            self._episodes_csv.flush()

    def log_evaluation(self, result: dict) -> None:
        with signals_held(), open(self.evals_path, "a") as f:
            f.write(json.dumps(result) + "\n")
            for key in ("completion", "clean_laps", "mean_lap_time", "offtracks"):
                if isinstance(result.get(key), (int, float)):
                    self.tensorboard.add_scalar(f"eval/{key}", result[key], result["global_step"])

    def close(self) -> None:
        self._csv.close()
        if self._episodes_csv is not None:
            self._episodes_csv.close()
        self.tensorboard.close()
        plot_curves(self.run_dir)


def plot_curves(run_dir: Path) -> Path | None:
    """training.png: mean return and lap progress per update, and each evaluation's mean lap time."""
    csv_path = run_dir / "metrics.csv"
    if not csv_path.exists():
        return None
    with open(csv_path, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["mean_progress"]]
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [int(r["global_step"]) for r in rows]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    axes[0].plot(steps, [float(r["mean_return"]) for r in rows], color="tab:blue")
    axes[0].set(title="mean episode return", xlabel="env steps")
    axes[1].plot(steps, [float(r["mean_progress"]) for r in rows], color="tab:green")
    axes[1].set(title="training episodes: lap progress %", xlabel="env steps", ylim=(0, 105))
    results = read_evaluations(run_dir)
    timed = [r for r in results if r["mean_lap_time"]]
    for clean, colour, label in ((True, "tab:red", "every lap clean"), (False, "tab:gray", "with off-tracks")):
        pts = [r for r in timed if r["all_clean"] == clean]
        axes[2].plot([r["global_step"] for r in pts], [r["mean_lap_time"] for r in pts], "o", color=colour,
                     label=label)
    axes[2].set(title="evaluations (greedy, race rules): mean lap s", xlabel="env steps")
    if timed:
        axes[2].legend(loc="upper right")
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    out = run_dir / "training.png"
    fig.savefig(out, dpi=90)
    plt.close(fig)
    return out


def read_evaluations(run_dir: Path, seen: int = 0) -> list[dict]:
    """The run's evaluations after the first `seen`; a last line still being written is left for later."""
    path = run_dir / "evaluations.jsonl"
    if not path.exists():
        return []
    text = path.read_text()
    lines = text.splitlines()
    complete = lines if text.endswith("\n") else lines[:-1]
    return [json.loads(line) for line in complete[seen:] if line]


def better(result: dict, best: tuple | None, race_type: str = "time-trial") -> tuple | None:
    """Ranking of evaluations: clean laps, then completion, then in a time trial the faster mean lap. With boxes
    or bots the later of two equally clean evaluations wins instead: the fastest clean one was the boldest
    driver, which crashed more than the last checkpoint in the held-out races (docs/performance.md)."""
    key = (result.get("clean_laps", 0), result.get("completion", 0), -(result.get("mean_lap_time") or 1e9))
    if best is None:
        return key
    if race_type == "time-trial":
        return key if key > tuple(best) else None
    return key if key[:2] >= tuple(best)[:2] else None


def best_evaluation(results: list[dict], race_type: str = "time-trial") -> dict | None:
    """The evaluation `better` ranks first: the one whose checkpoint a run keeps as `best`."""
    best, key = None, None
    for result in results:
        if (new := better(result, key, race_type)) is not None:
            best, key = result, new
    return best
