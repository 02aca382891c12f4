"""Resident memory of training with 4 envs and of the car runtime, read from /proc.

The bars (issue 10): training with 4 envs stays under 2 GiB resident in
all; the car runtime stays under 150 MiB. With --algorithm sac (issue 23): a
SAC run with its default replay buffer (agent/sac.py: sized from the machine's
memory, at most 1.5 GB of frames) stays under 4 GB. A short run fills only a
little of the buffer, and untouched pages of it cost nothing, so the SAC bar is
judged on the measured peak plus the part of the buffer the run had not yet
written (its capacity from config.json, the slots filled from metrics.csv): the
peak the run would reach with the buffer full.

What runs, each a real process started by this one (which imports only the
standard library, so it shares no library pages with what it measures):
1. `racekit train --steps 8192 --envs 4 --eval-every 4096 --eval-laps 1 --quiet`
   into a temporary run directory: PPO on the default track and reward, default
   camera (80x60 gray, frame stack 2), 8 updates of 1024 steps, with the
   evaluations (in the learner, while the rollout workers live) at 4096 and 8192
   steps; about a minute on 2 shared cores.
2. `racekit export` of that run to model.onnx (the model file the car runs) and
   `racekit sim demo --track oval --size 640x480` for a video of a lap (unmeasured);
3. `racekit car drive --model model.onnx --serial PTY --controller racekit
   --camera lap.mp4 --max-speed 0.3` for 10 s, then SIGTERM (it stops its motors
   and exits 0). PTY is a software motor controller (hardware/virtual.py) in a
   child process of this one, outside the measured tree; it counts what it decoded.

Each measured process tree (the process and its descendants, found through the
ppid field of /proc/*/stat) is sampled every 0.25 s: VmRSS from /proc/PID/status
and Pss from /proc/PID/smaps_rollup. RSS counts a page shared between processes
(libraries, and what the rollout workers inherit from the learner's fork) in each
of them; PSS splits it among them, so the sum of PSS is what the tree holds and
the sum of RSS an upper bound. Peaks are of the sums at one instant. Training is
judged on the PSS sum; the car on RSS (on the car nothing else shares its
libraries, so all of its RSS is its own). PSS also splits file pages with any
other process on the machine mapping the same files (e.g. another engineer's
torch), so on a busy machine it reads a little low. Sizes in MiB (1024 * 1024).

    .venv/bin/python bench/memory.py [--steps 8192] [--eval-every 4096] [--seconds 10] [--model model.onnx]
"""
from __future__ import annotations

import argparse
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BAR_TRAIN_MIB, BAR_CAR_MIB, BAR_SAC_MIB = 2048.0, 150.0, 4096.0
HELPERS = ("multiprocessing.resource_tracker", "multiprocessing.forkserver", "multiprocessing.popen")


def serve_controller(protocol: str) -> None:
    """(child process) A software motor controller: prints its pty, runs until stdin closes, prints counts."""
    sys.path.insert(0, str(ROOT))
    from racekit.hardware.virtual import open_virtual_controller

    controller = open_virtual_controller(protocol)
    print(controller.port, flush=True)
    sys.stdin.read()
    controller.stop()
    print(f"{controller.frames} {controller.bad}", flush=True)


# --- /proc -------------------------------------------------------------------------------------------


def _stat(pid: str) -> tuple[int, int] | None:
    """(ppid, start time) of a process, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()  # the name, in parentheses, may hold spaces
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    return int(fields[1]), int(fields[19])  # fields 4 and 22 of proc(5), counted from the state (field 3)


def process_tree(root: int) -> dict[int, int]:
    """{pid: start time} of root and all its descendants, now."""
    children: dict[int, list[int]] = {}
    start: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = _stat(name)
            if st is not None:
                children.setdefault(st[0], []).append(int(name))
                start[int(name)] = st[1]
    tree, todo = {}, [root]
    while todo:
        pid = todo.pop()
        if pid in start:
            tree[pid] = start[pid]
            todo.extend(children.get(pid, ()))
    return tree


def memory_kib(pid: int) -> tuple[int, int] | None:
    """(VmRSS, Pss) in KiB, or None for a process gone or a zombie."""
    try:
        with open(f"/proc/{pid}/status") as f:
            rss = next((int(line.split()[1]) for line in f if line.startswith("VmRSS:")), None)
        if rss is None:
            return None
        with open(f"/proc/{pid}/smaps_rollup") as f:
            pss = next(int(line.split()[1]) for line in f if line.startswith("Pss:"))
    except (FileNotFoundError, ProcessLookupError, StopIteration):
        return None
    return rss, pss


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return ""


@dataclass
class Peak:
    role: str
    rss: int = 0  # KiB
    pss: int = 0


@dataclass
class TreeSampler:
    """Peaks of a process tree's RSS and PSS sums (at one instant) and of each process."""

    root: int
    rss_sum: int = 0
    pss_sum: int = 0
    most: int = 0  # processes in one sample, at most
    samples: int = 0
    procs: dict = field(default_factory=dict)  # (pid, start time) -> Peak
    started: float = field(default_factory=time.monotonic)
    pss_peak_at: float = 0.0  # seconds after the start
    last: tuple = (0, 0)  # the sums at the last sample that saw the whole tree

    def sample(self) -> None:
        rss_sum = pss_sum = count = 0
        for pid, since in process_tree(self.root).items():
            mem = memory_kib(pid)
            if mem is None:
                continue
            key = (pid, since)
            if key not in self.procs:
                line = cmdline(pid)
                role = "root" if pid == self.root else "helper" if any(h in line for h in HELPERS) else "child"
                self.procs[key] = Peak(role)
            peak = self.procs[key]
            peak.rss, peak.pss = max(peak.rss, mem[0]), max(peak.pss, mem[1])
            rss_sum, pss_sum, count = rss_sum + mem[0], pss_sum + mem[1], count + 1
        if pss_sum > self.pss_sum:
            self.pss_peak_at = time.monotonic() - self.started
        self.rss_sum, self.pss_sum = max(self.rss_sum, rss_sum), max(self.pss_sum, pss_sum)
        if count >= self.most:
            self.last = (rss_sum, pss_sum)
        self.most = max(self.most, count)
        self.samples += 1

    def peaks(self, role: str) -> list[Peak]:
        return sorted((p for p in self.procs.values() if p.role == role), key=lambda p: -p.rss)


def mib(kib: int) -> float:
    return kib / 1024.0


# --- processes ---------------------------------------------------------------------------------------


def start(args: list[str], out_path: str, **kwargs) -> subprocess.Popen:
    """A child in its own process group (so that stop() ends its whole tree), output to a file."""
    with open(out_path, "w") as out:
        return subprocess.Popen(args, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                **kwargs)


def stop(proc: subprocess.Popen | None, grace: float = 10.0) -> None:
    """SIGTERM to the process group, SIGKILL to whatever is left after `grace` seconds; reaps the child."""
    if proc is None:
        return
    try:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(grace)
            except subprocess.TimeoutExpired:
                pass
        os.killpg(proc.pid, signal.SIGKILL)  # strays (an orphaned rollout worker) included
    except ProcessLookupError:
        pass
    proc.wait()


def sample_until_exit(proc: subprocess.Popen, interval: float, timeout: float) -> TreeSampler:
    sampler = TreeSampler(proc.pid)
    deadline, tick = time.monotonic() + timeout, time.monotonic()
    while proc.poll() is None:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{shlex.join(proc.args[1:4])}... still running after {timeout:.0f} s")
        sampler.sample()
        tick += interval
        time.sleep(max(0.0, tick - time.monotonic()))
    return sampler


def tail(path: str, lines: int = 15) -> str:
    with open(path, errors="replace") as f:
        return "".join(f.readlines()[-lines:])


def run_checked(args: list[str], log: str, timeout: float) -> None:
    proc = start(args, log)
    try:
        if proc.wait(timeout) != 0:
            raise RuntimeError(f"{shlex.join(args[1:])} exited {proc.returncode}:\n{tail(log)}")
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"{shlex.join(args[1:])} still running after {timeout:.0f} s") from None
    finally:
        stop(proc)


# --- the two measurements ----------------------------------------------------------------------------


def measure_training(tmp: str, args) -> dict:
    run_dir = os.path.join(tmp, "run")
    cmd = [sys.executable, "-m", "racekit", "train", "--steps", str(args.steps), "--envs", str(args.envs),
           "--out", run_dir, "--quiet", "--eval-every", str(args.eval_every), "--eval-laps", "1",
           *(["--algorithm", "sac"] if args.algorithm == "sac" else [])]
    log = os.path.join(tmp, "train.log")
    proc = start(cmd, log)
    started = time.monotonic()
    try:
        sampler = sample_until_exit(proc, args.interval, timeout=600.0)
    finally:
        stop(proc)
    if proc.returncode != 0:
        raise RuntimeError(f"racekit train exited {proc.returncode}:\n{tail(log)}")
    evals = sum(1 for line in open(log) if line.startswith("eval at "))
    return {"cmd": cmd, "sampler": sampler, "seconds": time.monotonic() - started, "run": run_dir, "evals": evals,
            "buffer": sac_buffer(run_dir) if args.algorithm == "sac" else None}


def sac_buffer(run_dir: str) -> dict:
    """A SAC run's replay buffer: its capacity and slot size (config.json), the slots it had filled
    (metrics.csv's last row), and the bytes still unwritten at the end (what a full buffer adds)."""
    import csv
    import json

    run = json.load(open(os.path.join(run_dir, "config.json")))["run"]
    frame = run["camera_width"] * run["camera_height"] * (1 if run["grayscale"] else 3)
    slot = frame + 2 * 4 + 4 + 1 + 1 + 8  # agent/sac.py's ReplayBuffer.SLOT_EXTRA_BYTES beside each frame
    with open(os.path.join(run_dir, "metrics.csv")) as f:
        rows = [r for r in csv.DictReader(f) if r.get("buffer")]
    capacity, filled = run["sac"]["buffer_size"], int(rows[-1]["buffer"]) if rows else 0
    return {"capacity": capacity, "filled": filled, "slot_bytes": slot,
            "unwritten_kib": max(0, capacity - filled) * slot // 1024}


def measure_car(tmp: str, model: str, args) -> dict:
    video = os.path.join(tmp, "lap.mp4")
    run_checked([sys.executable, "-m", "racekit", "sim", "demo", "--track", "oval", "--out", video,
                 "--size", "640x480"], os.path.join(tmp, "demo.log"), timeout=120.0)
    controller = subprocess.Popen([sys.executable, __file__, "--serve-controller", "racekit"], cwd=ROOT,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=True)
    car = None
    try:
        port = controller.stdout.readline().strip()
        if not port:
            raise RuntimeError("the software motor controller did not start")
        csv_log, out = os.path.join(tmp, "drive.csv"), os.path.join(tmp, "drive.out")
        cmd = [sys.executable, "-m", "racekit", "car", "drive", "--model", model, "--serial", port,
               "--controller", "racekit", "--camera", video, "--max-speed", "0.3", "--log", csv_log]
        car = start(cmd, out)
        sampler = TreeSampler(car.pid)
        deadline, tick = time.monotonic() + args.seconds, time.monotonic()
        while time.monotonic() < deadline and car.poll() is None:
            sampler.sample()
            tick += args.interval
            time.sleep(max(0.0, tick - time.monotonic()))
        if car.poll() is not None:
            raise RuntimeError(f"racekit car drive exited {car.returncode} before SIGTERM:\n{tail(out)}")
        sampler.sample()
        car.send_signal(signal.SIGTERM)
        try:
            code = car.wait(10.0)
        except subprocess.TimeoutExpired:
            code = None
        received = controller.communicate(timeout=30)[0].split()
        rows = open(csv_log).read().splitlines()[1:] if os.path.exists(csv_log) else []
    finally:
        stop(car)
        if controller.poll() is None:
            controller.kill()
        controller.wait()
    return {"cmd": cmd, "sampler": sampler, "code": code, "out": out, "received": received,
            "ticks": len(rows), "drive": sum(",drive" in r for r in rows), "video": video}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8192, help="training env steps (default 8192)")
    parser.add_argument("--eval-every", type=int, default=4096, help="env steps between evaluations (default 4096)")
    parser.add_argument("--envs", type=int, default=4, help="envs (default 4: the bar's), 2 per rollout worker process")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the car run (default 10)")
    parser.add_argument("--interval", type=float, default=0.25, help="seconds between samples (default 0.25)")
    parser.add_argument("--model", help="model for the car (default: export the training run's)")
    parser.add_argument("--algorithm", choices=("ppo", "sac"), default="ppo",
                        help="train with PPO (default; the 2 GiB bar) or SAC with its default buffer (the 4 GB bar)")
    parser.add_argument("--serve-controller", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_controller:
        serve_controller(args.serve_controller)
        return 0

    for sig in (signal.SIGTERM, signal.SIGHUP):  # unwind, so that the finally blocks end the children
        signal.signal(sig, lambda signum, frame: sys.exit(128 + signum))
    print("command: " + shlex.join([os.path.relpath(sys.executable, ROOT) if sys.executable.startswith(str(ROOT))
                                    else sys.executable, *sys.argv]), flush=True)
    with tempfile.TemporaryDirectory(prefix="racekit-bench-") as tmp:
        train = measure_training(tmp, args)
        report_training(train, args)
        model = args.model
        if model is None:
            model = os.path.join(tmp, "model.onnx")
            run_checked([sys.executable, "-m", "racekit", "export", train["run"], "-o", model],
                        os.path.join(tmp, "export.log"), timeout=120.0)
        car = measure_car(tmp, model, args)
        report_car(car, model, args)
    car_rss = mib(car["sampler"].rss_sum)
    ok_car = car_rss < BAR_CAR_MIB and car["code"] == 0
    if args.algorithm == "sac":
        buffer = train["buffer"]
        full = mib(train["sampler"].pss_sum + buffer["unwritten_kib"])
        print(f"bar: SAC training with {args.envs} envs and its default buffer < {BAR_SAC_MIB:.0f} MiB in all -> "
              f"measured {mib(train['sampler'].pss_sum):.0f} MiB (PSS sum) with {buffer['filled']:,} of "
              f"{buffer['capacity']:,} transitions in the buffer; with it full {full:.0f} MiB: "
              f"{'PASS' if full < BAR_SAC_MIB else 'FAIL'}")
    else:
        ok_train = mib(train["sampler"].pss_sum) < BAR_TRAIN_MIB
        print(f"bar: training with {args.envs} envs < {BAR_TRAIN_MIB:.0f} MiB resident in all (PSS sum) -> "
              f"{mib(train['sampler'].pss_sum):.0f} MiB (RSS sum {mib(train['sampler'].rss_sum):.0f} MiB): "
              f"{'PASS' if ok_train else 'FAIL'}")
    print(f"bar: car runtime < {BAR_CAR_MIB:.0f} MiB resident (RSS) -> {car_rss:.1f} MiB "
          f"(PSS {mib(car['sampler'].pss_sum):.1f} MiB), exit {car['code']} on SIGTERM: "
          f"{'PASS' if ok_car else 'FAIL'}")
    return 0


def report_training(train: dict, args) -> None:
    s = train["sampler"]
    learner, envs, helpers = s.peaks("root"), s.peaks("child"), s.peaks("helper")
    print(f"training: {shlex.join(['racekit', *train['cmd'][3:]]).replace(train['run'], 'TMP/run')}")
    print(f"  {args.algorithm.upper()}, default camera 80x60 gray x2, {train['evals']} evaluations; ran "
          f"{train['seconds']:.1f} s, "
          f"{s.samples} samples every {args.interval:g} s")
    print(f"  processes: {s.most} at most at one instant ({len(learner)} learner, {len(envs)} rollout worker, "
          f"{len(helpers)} multiprocessing helper)")
    print(f"  {'':40} {'peak RSS MiB':>12} {'peak PSS MiB':>12}")
    print(f"  {'whole tree (sums at one instant)':40} {mib(s.rss_sum):12.1f} {mib(s.pss_sum):12.1f}")
    print(f"  {'  same, last sample with all processes':40} {mib(s.last[0]):12.1f} {mib(s.last[1]):12.1f}"
          f"   (PSS peak at {s.pss_peak_at:.0f} s)")
    rows = [("learner", learner[:1]), (f"rollout worker (largest of {len(envs)})", envs[:1]),
            ("rollout worker (smallest)", envs[-1:]), ("multiprocessing helper", helpers[:1])]
    for label, peak in rows:
        if peak:
            print(f"  {label:40} {mib(peak[0].rss):12.1f} {mib(peak[0].pss):12.1f}")
    print(flush=True)


def report_car(car: dict, model: str, args) -> None:
    s = car["sampler"]
    cmd = shlex.join(["racekit", *car["cmd"][3:]]).replace(os.path.dirname(car["video"]) + "/", "TMP/")
    print(f"car runtime: {cmd}")
    print(f"  model {os.path.basename(model)} {os.path.getsize(model) / 1e6:.2f} MB, camera a 640x480 MP4 "
          f"(`racekit sim demo --track oval`); {args.seconds:g} s then SIGTERM: exit {car['code']}; "
          f"{s.samples} samples every {args.interval:g} s")
    received = car["received"] + ["?", "?"]
    print(f"  {len(s.procs)} process(es); {car['ticks']} ticks logged, {car['drive']} drove on the model; "
          f"the controller decoded {received[0]} commands, {received[1]} bad")
    print(f"  {'':40} {'peak RSS MiB':>12} {'peak PSS MiB':>12}")
    print(f"  {'car runtime (tree sums)':40} {mib(s.rss_sum):12.1f} {mib(s.pss_sum):12.1f}")
    if car["code"] != 0:
        print(tail(car["out"]))
    print(flush=True)


if __name__ == "__main__":
    sys.exit(main())
