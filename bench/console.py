"""`racekit console`'s speed (issue 25): how fast it starts and serves its pages with 50 runs in its folder, and
whether a training started from it trains as fast as the same `racekit train` command run directly.

1. A small real run is trained once (a few seconds), then copied 50 times into a runs folder.
2. Start-up: `racekit console --runs DIR --port 0` is started REPEAT times; the time from the start of the
   process to the first answer of its page (bar: under 2 s).
3. Serving: each page and JSON answer the page asks for, timed over real HTTP (median and 95th percentile of
   REQUESTS requests; bar: under 100 ms).
4. Training: the create form's training (POST /api/trainings to a console subprocess) and the same
   `racekit train` command (the one the console logged; the same seed), one after the other, for MINUTES each,
   PAIRS times in turns; steps/s of each from its metrics.csv (the training loop only, without the start-up),
   and the ratio of the means (bar: within 5%). Run it on a machine doing nothing else.

    .venv/bin/python bench/console.py [--minutes 1] [--pairs 2] [--runs 50] [--repeat 5] [--requests 30]
    .venv/bin/python bench/console.py --quick      # a smoke test: 6 s trainings, fewer requests
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

RACEKIT = [sys.executable, "-m", "racekit"]
REWARD = "def reward_function(params):\n    return 1e-3 if params['is_offtrack'] else params['speed']\n"
FORM = {"track": "oval", "race_type": "time-trial", "algorithm": "ppo", "camera": "front-camera", "lidar": "",
        "action_type": "continuous", "steering_low": "-30", "steering_high": "30", "speed_low": "0.5",
        "speed_high": "4", "randomize": "none", "reward": REWARD}


def request(url: str, body: dict | None = None) -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"} if data else {})
    with urllib.request.urlopen(req, timeout=60) as response:
        return response.status, response.read()


def small_run(folder: Path) -> Path:
    """A few seconds of real training: config.json, metrics.csv, evaluations.jsonl, checkpoints, as any run."""
    run = folder / "template"
    subprocess.run([*RACEKIT, "train", "--out", str(run), "--track", "oval", "--steps", "512", "--envs", "2",
                    "--rollout-steps", "128", "--eval-every", "256", "--eval-laps", "1", "--camera", "36x36",
                    "--no-simtrace", "--quiet"], check=True, capture_output=True)
    return run


def fill(runs: Path, template: Path, count: int) -> None:
    for i in range(count):
        shutil.copytree(template, runs / f"run-{i:02d}")


class Console:
    """`racekit console` as a subprocess on a free port; `seconds`: from its start to its page's first answer."""

    def __init__(self, runs: Path):
        started = time.perf_counter()
        env = {**os.environ, "RACEKIT_DB": str(runs.parent / "board.sqlite")}  # not the user's leaderboard
        self.process = subprocess.Popen([*RACEKIT, "console", "--runs", str(runs), "--port", "0"], env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        line = self.process.stdout.readline()
        match = re.match(r"racekit console on (http://localhost:\d+)/", line)
        if not match:
            self.close()
            raise RuntimeError(f"the console did not start: {line!r}")
        self.url = match.group(1)
        request(self.url + "/")
        self.seconds = time.perf_counter() - started

    def close(self) -> None:
        self.process.send_signal(2)
        self.process.wait(20)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def start_up(runs: Path, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        with Console(runs) as console:
            times.append(console.seconds)
    return times


def serving(url: str, requests: int) -> dict[str, list[float]]:
    paths = ["/", "/assets/console.js", "/assets/console.css", "/api/runs", "/api/run?id=run-07",
             "/api/run/curves?id=run-07", "/api/run/log?id=run-07", "/api/run/tasks?id=run-07",
             "/api/run/track.png?id=run-07", "/api/tracks", "/api/examples", "/leaderboard", "/api/boards"]
    out = {}
    for path in paths:
        request(url + path)  # the first: pictures drawn, caches filled
        times = []
        for _ in range(requests):
            start = time.perf_counter()
            request(url + path)
            times.append(1000 * (time.perf_counter() - start))
        out[path] = times
    return out


def steps_per_second(run: Path) -> tuple[float, int]:
    """(steps/s of the training loop, steps trained) from metrics.csv: from the first update to the last, so
    without the start-up; with one update only (--quick), that update's steps over its wall seconds."""
    import csv

    with open(run / "metrics.csv", newline="") as fh:
        rows = [(int(r["global_step"]), float(r["wall_seconds"])) for r in csv.DictReader(fh)]
    if not rows:
        raise RuntimeError(f"{run}: no update in metrics.csv; train longer (--minutes)")
    if len(rows) == 1:
        return rows[0][0] / rows[0][1], rows[0][0]
    (s0, w0), (s1, w1) = rows[0], rows[-1]
    return (s1 - s0) / (w1 - w0), s1


def wait_done(url: str, run_id: str, limit_s: float) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        state = json.loads(request(f"{url}/api/run?id={run_id}")[1])["state"]
        if state not in ("training", "queued"):
            return
        time.sleep(1)
    raise RuntimeError(f"{run_id} still training after {limit_s:g} s")


def console_training(runs: Path, name: str, minutes: float) -> tuple[float, int, list[str]]:
    """The create form's training, through a console subprocess: (steps/s, steps, its racekit train options)."""
    with Console(runs) as console:
        request(f"{console.url}/api/trainings", {**FORM, "name": name, "minutes": f"{minutes:g}"})
        wait_done(console.url, name, 60 * minutes + 300)
    log = (runs / name / "train.log").read_text().splitlines()
    argv = log[0].removeprefix("$ racekit train ").split(" ")  # the console's own command, as it logged it
    reward = runs / "reward.py"
    reward.write_text(REWARD)
    argv[argv.index("--reward") + 1] = str(reward)
    return (*steps_per_second(runs / name), argv)


def direct_training(runs: Path, name: str, argv: list[str]) -> tuple[float, int]:
    env = {**os.environ, "RACEKIT_DB": str(runs.parent / "board.sqlite")}
    subprocess.run([*RACEKIT, "train", *argv, "--out", str(runs / name), "--quiet"], check=True, capture_output=True,
                   env=env)
    return steps_per_second(runs / name)


def training(folder: Path, minutes: float, pairs: int) -> tuple[list[tuple[float, float]], list[str]]:
    """[(console steps/s, direct steps/s)] per pair, the one after the other; every other pair the direct one
    first, so that a machine getting busier or quieter does not favour one side."""
    runs = folder / "train-runs"
    runs.mkdir()
    results, argv = [], None
    for i in range(pairs):
        if i % 2 == 0:
            console_sps, _, argv = console_training(runs, f"console-{i}", minutes)
            direct_sps, _ = direct_training(runs, f"direct-{i}", argv)
        else:
            direct_sps, _ = direct_training(runs, f"direct-{i}", argv)
            console_sps, _, _ = console_training(runs, f"console-{i}", minutes)
        print(f"  pair {i + 1}: from the console {console_sps:.1f} steps/s, directly {direct_sps:.1f} steps/s "
              f"({console_sps / direct_sps:.3f})", flush=True)
        results.append((console_sps, direct_sps))
    return results, argv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=1.0, help="each training (default 1)")
    parser.add_argument("--runs", type=int, default=50, help="runs in the folder (default 50)")
    parser.add_argument("--repeat", type=int, default=5, help="console starts timed (default 5)")
    parser.add_argument("--requests", type=int, default=30, help="requests timed per page (default 30)")
    parser.add_argument("--pairs", type=int, default=2, help="console and direct trainings, in turns (default 2)")
    parser.add_argument("--quick", action="store_true", help="a smoke test: 0.1-minute trainings, 2 starts, "
                                                              "5 requests a page")
    args = parser.parse_args()
    if args.quick:
        args.minutes, args.repeat, args.requests, args.pairs = 0.1, 2, 5, 1
    with tempfile.TemporaryDirectory(prefix="racekit-bench-console-") as tmp:
        folder = Path(tmp)
        runs = folder / "runs"
        runs.mkdir()
        print(f"a small real run, copied {args.runs} times ...", flush=True)
        fill(runs, small_run(folder), args.runs)

        starts = start_up(runs, args.repeat)
        print(f"\nstart-up with {args.runs} runs ({args.repeat} starts): median {statistics.median(starts):.2f} s, "
              f"worst {max(starts):.2f} s (bar: under 2 s) -> {'met' if max(starts) < 2 else 'NOT met'}")

        with Console(runs) as console:
            served = serving(console.url, args.requests)
        print(f"\n{'page or answer':<32} {'median ms':>10} {'p95 ms':>8}   ({args.requests} requests each, "
              f"{args.runs} runs)")
        worst = 0.0
        for path, times in served.items():
            p95 = sorted(times)[max(0, round(0.95 * len(times)) - 1)]
            worst = max(worst, p95)
            print(f"{path:<32} {statistics.median(times):>10.1f} {p95:>8.1f}")
        print(f"slowest p95 {worst:.1f} ms (bar: under 100 ms) -> {'met' if worst < 100 else 'NOT met'}")

        print(f"\ntraining {args.minutes:g} min from the console and the same command directly, {args.pairs} "
              f"pair(s) ...", flush=True)
        results, argv = training(folder, args.minutes, args.pairs)
        console_sps = statistics.mean(c for c, _ in results)
        direct_sps = statistics.mean(d for _, d in results)
        ratio = console_sps / direct_sps
        print(f"command: racekit train {' '.join(argv)}")
        print(f"mean steps/s: from the console {console_sps:.1f}, racekit train directly {direct_sps:.1f}")
        print(f"console / direct: {ratio:.3f} (bar: within 5%, 0.95 or more) -> {'met' if ratio >= 0.95 else 'NOT met'}"
              + (" (--quick: one short update each, not a measurement)" if args.quick else ""))

if __name__ == "__main__":
    main()
