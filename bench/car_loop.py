"""The car loop's speed on one core: model inference, frame-to-serial-bytes work, model size.

The bar (issue 4): sustain 15 Hz with p99 under 10 ms of work per frame here,
to leave room on a Raspberry Pi 4. For reference, DeepRacer's loop runs at
15 Hz (its camera's rate) and DonkeyCar's at 20 Hz. With DeepRacer Evo's
sensors (issue 24), a camera pair and a LIDAR: p99 under 5 ms per step.

What runs, all in this process pinned to one core (os.sched_setaffinity; the
threads onnxruntime and the camera start inherit it), torch never imported:
1. onnxruntime inference of the model, 1 thread, on stacked camera input;
2. the loop's parts exactly as `racekit car drive` builds them (camera part,
   frame conversion and stack + model, governor, calibration + serial driver
   writing to a pseudo-terminal, CSV log), run flat out: the work per frame,
   for a 160x120 and a 640x480 camera;
3. the same loop paced at the model's rate by DriveLoop.run with a video file
   as the camera (decoded by the camera thread, on the same core).
The motor controller on the pty's other side is a software one
(hardware/virtual.py) in a child process kept off the measured core, as a
real controller is its own microcontroller; it counts what it decoded.

Then the same with DeepRacer Evo's sensors: a stereo pair (two cameras,
paired by capture time: hardware/stereo.py) and a LIDAR ("lidar": 64 rays)
read by the car's RPLIDAR driver, whose reader thread runs on the measured
core, from a software RPLIDAR A1 (hardware/virtual_lidar.py: the protocol's
bytes, 10 revolutions a second of 200 samples, an A1's standard scan) in a
second child process off that core. Its model: the default camera network
on the pair's 4 channels beside DeepRacer's LIDAR embedder (dense 256, 256),
joined before the action head as agent/policy.py joins them.

The model is exported the way training exports (agent/export.py: DeepRacer's
CNN, default camera 80x60 gray, frame stack 2), made by a child process so
torch stays out of this one; or pass --model.

With --calibrated every camera (the front one; each of the pair) has a calibration as
`racekit car calibrate-cameras` writes it (a mount error of a degree or two and a gain), so each
frame is also turned back and brightened (hardware/camera_calibration.py) inside the "model" part:
run it with and without to see what the correction costs.

    .venv/bin/python bench/car_loop.py [--model model.onnx] [--frames 1000] [--seconds 10] [--controller racekit]
                                       [--sensor-model evo.onnx] [--calibrated]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script from anywhere
REFERENCES = [("DeepRacer", 15.0), ("DonkeyCar", 20.0)]
BAR_HZ, BAR_P99_MS = 15.0, 10.0
SENSORS_BAR_P99_MS = 5.0  # issue 24: a camera pair and a LIDAR
LIDAR_SAMPLES, LIDAR_HZ = 200, 10.0
CAMERA_CALIBRATION: dict | None = None  # by camera role; --calibrated sets it (main)


def make_model(out: str) -> None:
    """(child process) A model file written by agent/export.py from a briefly cloned run."""
    import torch

    from racekit.agent.export import export_onnx
    from racekit.agent.imitation import imitate
    from racekit.agent.train import RunConfig

    torch.set_num_threads(1)
    run = imitate(Path(out).parent / "run", RunConfig(track="oval"), samples=64, epochs=1, seed=0)
    export_onnx(run, out)


def make_sensor_model(out: str) -> None:
    """(child process) A stereo-cameras + lidar model file (see the module docstring), 80x60 grey, stack 2."""
    import json
    import warnings

    import onnx
    import torch
    from torch import nn

    from racekit.agent.networks import NETWORKS, build_trunk

    torch.set_num_threads(1)
    torch.manual_seed(0)

    class Evo(nn.Module):
        def __init__(self):
            super().__init__()
            self.trunk = build_trunk(NETWORKS["racekit"], 4, 60, 80, lambda layer: layer)
            self.lidar = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU())
            self.head = nn.Linear(NETWORKS["racekit"].hidden + 256, 2)
            self.register_buffer("scale", torch.tensor([30.0, 1.75]))  # tanh -> [-30, 30] deg, [0.5, 4] m/s
            self.register_buffer("shift", torch.tensor([0.0, 2.25]))

        def forward(self, frames, lidar):
            x = torch.cat([self.trunk(frames.permute(0, 3, 1, 2).float() / 255.0), self.lidar(lidar)], dim=-1)
            return torch.tanh(self.head(x)) * self.scale + self.shift

    names = ["frames", "lidar"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the TorchScript exporter, as agent/export.py uses
        torch.onnx.export(Evo().eval(), (torch.zeros(1, 60, 80, 4, dtype=torch.uint8), torch.zeros(1, 64)), out,
                          dynamo=False, opset_version=17, input_names=names, output_names=["action"],
                          dynamic_axes={name: {0: "batch"} for name in names + ["action"]})
    model = onnx.load(out)
    meta = {"format": 1, "camera": {"width": 80, "height": 60, "channels": 1, "frame_stack": 2, "cameras": 2,
                                    "fov_deg": 120.0},
            "sensors": ["stereo-cameras", "lidar"], "control_hz": 15.0,
            "action_space": {"type": "continuous", "steering_deg": [-30.0, 30.0], "speed_mps": [0.5, 4.0]}}
    onnx.helper.set_model_props(model, {"racekit": json.dumps(meta)})
    onnx.save(model, out)


def serve_lidar(avoid_core: int) -> None:
    """(child process) A software RPLIDAR A1 seeing a room of walls: prints its pty, runs until stdin closes."""
    others = os.sched_getaffinity(0) - {avoid_core}
    if others:
        os.sched_setaffinity(0, others)
    import numpy as np

    from racekit.hardware.virtual_lidar import RangesScene, open_virtual_lidar

    device = open_virtual_lidar(RangesScene(0.3 + 2.0 * np.abs(np.sin(np.arange(64) / 5.0))),
                                samples_per_rev=LIDAR_SAMPLES, scan_hz=LIDAR_HZ)
    print(device.port, flush=True)
    sys.stdin.read()
    device.stop()
    print(device.revolutions, flush=True)


def serve_controller(protocol: str, avoid_core: int) -> None:
    """(child process) A software motor controller: prints its pty, runs until stdin closes, prints counts."""
    others = os.sched_getaffinity(0) - {avoid_core}
    if others:
        os.sched_setaffinity(0, others)
    from racekit.hardware.virtual import open_virtual_controller

    controller = open_virtual_controller(protocol)
    print(controller.port, flush=True)
    sys.stdin.read()
    controller.stop()
    print(f"{controller.frames} {controller.bad}", flush=True)


def percentiles(seconds: list[float]) -> tuple[float, float, float]:
    import numpy as np

    ms = np.asarray(seconds) * 1000.0
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 99)), float(ms.max())


class SyntheticCamera:
    """A camera whose every read is a new frame (the loop never waits): cycles through a few pictures."""

    def __init__(self, width: int, height: int, clock=time.monotonic):
        import numpy as np

        from racekit.hardware.camera import FrameInfo

        rng = np.random.default_rng(0)
        self.frames = [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(8)]
        self.clock, self.name, self.index, self._info = clock, f"synthetic {width}x{height}", 0, FrameInfo

    def latest(self):
        self.index += 1
        return self._info(self.frames[self.index % len(self.frames)], self.index, self.clock())


def sensor_parts(cameras: list, lidar) -> list:
    """The loop's sensor parts as `racekit car drive` builds them: one camera, or a pair and the LIDAR."""
    from racekit.hardware.drive import CameraPart, LidarPart
    from racekit.hardware.stereo import StereoCameraPart

    if len(cameras) == 1:
        return [CameraPart(cameras[0])]
    return [StereoCameraPart(*cameras), LidarPart(lidar, "lidar")]


def build_parts(policy, sensors: list, controller: str, port: str, log_path: str):
    from racekit.hardware.calibration import Calibration
    from racekit.hardware.controllers import open_controller
    from racekit.hardware.drive import ActuatorPart, LogPart, PilotPart, SafetyPart
    from racekit.hardware.link import ControllerLink
    from racekit.hardware.safety import Governor

    calibration = Calibration()
    link = ControllerLink(open_controller(controller, port), lambda: open_controller(controller, port),
                          calibration.neutral())
    return sensors + [PilotPart(policy, CAMERA_CALIBRATION), SafetyPart(Governor(policy.spec.action_space, 1.0)),
                      ActuatorPart(link, calibration), LogPart(log_path, time.monotonic())], link


def flat_out(policy, size, frames: int, controller: str, port: str, tmp: str, lidar=None) -> dict:
    """Work per frame, camera frame(s) -> serial bytes, ticks run back to back; a pair and the LIDAR with `lidar`."""
    from racekit.hardware.drive import DriveLoop

    cameras = [SyntheticCamera(*size)] if lidar is None else [SyntheticCamera(*size), SyntheticCamera(*size)]
    parts, link = build_parts(policy, sensor_parts(cameras, lidar), controller, port, os.path.join(tmp, "flat.csv"))
    loop = DriveLoop(parts, policy.spec.control_hz)
    times = []
    for i in range(frames + 50):
        t0 = time.perf_counter()
        tick = loop.run_tick()
        if i >= 50:  # the first ticks warm caches and the allocator
            times.append(time.perf_counter() - t0)
        if tick.sends != 1 or tick.fault:
            raise RuntimeError(f"tick {i}: fault {tick.fault!r}, {tick.sends} commands sent")
    parts[-1].close()
    sent = link.controller.frames_sent
    link.close()
    return {"size": size, "work": percentiles(times), "parts": loop.profiler.stats(), "sent": sent,
            "sensors": lidar is not None}


def paced(policy, seconds: float, controller: str, port: str, tmp: str, lidar=None) -> dict:
    """The real loop at the model's rate, a 640x480 video file as the camera (two, and the LIDAR, with `lidar`)."""
    import cv2
    import numpy as np

    from racekit.hardware.camera import open_video
    from racekit.hardware.drive import DriveLoop

    video = os.path.join(tmp, "camera.avi")
    writer = cv2.VideoWriter(video, cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (640, 480))
    rng = np.random.default_rng(1)
    for i in range(60):  # a moving gradient with noise: JPEG-decoding it costs what a real picture costs
        frame = np.add.outer(np.arange(480) // 2, np.arange(640) // 3 + 4 * i).astype(np.uint8)
        writer.write(cv2.merge([frame, frame // 2 + rng.integers(0, 30, frame.shape, dtype=np.uint8), 255 - frame]))
    writer.release()
    cameras = [open_video(video).start() for _ in range(1 if lidar is None else 2)]  # each its own decoder
    try:
        deadline = time.monotonic() + 5.0
        while any(c.latest() is None for c in cameras) and time.monotonic() < deadline:
            time.sleep(0.01)
        parts, link = build_parts(policy, sensor_parts(cameras, lidar), controller, port,
                                  os.path.join(tmp, "paced.csv"))
        loop = DriveLoop(parts, policy.spec.control_hz)
        started = time.monotonic()
        loop.run(seconds)
        elapsed = time.monotonic() - started
    finally:
        for camera in cameras:
            camera.stop()
    parts[-1].close()
    sent = link.controller.frames_sent
    link.close()
    stats = loop.profiler.stats()
    return {"ticks": loop.profiler.ticks, "hz": loop.profiler.ticks / elapsed, "missed": loop.profiler.missed,
            "work": tuple(stats["tick (all parts)"][k] for k in ("p50_ms", "p99_ms", "max_ms")), "parts": stats,
            "sent": sent, "drive": sum(1 for row in open(os.path.join(tmp, "paced.csv")) if ",drive" in row),
            "sensors": lidar is not None}


def inference(policy, frames: int) -> tuple[float, float, float]:
    import numpy as np

    from racekit.hardware.stereo import StereoFrame, make_stacker

    stacker = make_stacker(policy.spec.camera)
    rng = np.random.default_rng(2)
    pictures = [rng.integers(0, 256, (120, 160, 3), dtype=np.uint8) for _ in range(8)]
    inputs = [stacker.push(StereoFrame(p, p[::-1]) if policy.spec.stereo else p).copy() for p in pictures]
    lidar = rng.uniform(0.15, 1.0, policy.spec.lidar_size).astype(np.float32) if policy.spec.lidar else None
    times = []
    for i in range(frames + 50):
        t0 = time.perf_counter()
        policy.act(inputs[i % len(inputs)], lidar)
        if i >= 50:
            times.append(time.perf_counter() - t0)
    return percentiles(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="racekit model file (default: export one the way training does)")
    parser.add_argument("--sensor-model", help="a stereo-cameras + lidar model file (default: make one)")
    parser.add_argument("--frames", type=int, default=1000, help="frames per flat-out measurement (default 1000)")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the paced runs (default 10)")
    parser.add_argument("--controller", default="racekit", choices=("maestro", "mm1", "racekit"))
    parser.add_argument("--core", type=int, help="the core to pin to (default: the last one allowed)")
    parser.add_argument("--calibrated", action="store_true",
                        help="every camera with a mount error and a gain to correct (calibrate-cameras' sections)")
    parser.add_argument("--make-model", help=argparse.SUPPRESS)
    parser.add_argument("--make-sensor-model", help=argparse.SUPPRESS)
    parser.add_argument("--serve-controller", help=argparse.SUPPRESS)
    parser.add_argument("--serve-lidar", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--avoid-core", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.make_model or args.make_sensor_model:
        (make_model if args.make_model else make_sensor_model)(args.make_model or args.make_sensor_model)
        return 0
    if args.serve_controller or args.serve_lidar:
        serve_controller(args.serve_controller, args.avoid_core) if args.serve_controller else \
            serve_lidar(args.avoid_core)
        return 0

    core = args.core if args.core is not None else max(os.sched_getaffinity(0))
    if args.calibrated:
        from racekit.hardware.camera_calibration import CameraCalibration

        global CAMERA_CALIBRATION
        skewed = CameraCalibration(pitch_deg=1.2, roll_deg=-0.9, yaw_deg=1.5, gain=1.25)
        CAMERA_CALIBRATION = {"front": skewed, "left": CameraCalibration(gain=0.95), "right": skewed}
        print("every camera calibrated: frames turned back by a homography and brightened before the model")
    with tempfile.TemporaryDirectory(prefix="racekit-bench-") as tmp:
        model, evo = args.model, args.sensor_model
        for flag, path, name in (("--make-model", model, "model.onnx"), ("--make-sensor-model", evo, "evo.onnx")):
            if path is None:
                subprocess.run([sys.executable, __file__, flag, os.path.join(tmp, name)], check=True,
                               capture_output=True)
        model, evo = model or os.path.join(tmp, "model.onnx"), evo or os.path.join(tmp, "evo.onnx")
        child = subprocess.Popen([sys.executable, __file__, "--serve-controller", args.controller, "--avoid-core",
                                  str(core)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        lidar_child = subprocess.Popen([sys.executable, __file__, "--serve-lidar", "--avoid-core", str(core)],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        lidar = None
        try:
            port, lidar_port = child.stdout.readline().strip(), lidar_child.stdout.readline().strip()
            os.sched_setaffinity(0, {core})  # before onnxruntime, OpenCV and the LIDAR start their threads
            import cv2
            import onnxruntime

            from racekit.hardware.lidar import open_lidar
            from racekit.hardware.model import load_policy

            cv2.setNumThreads(1)  # as `racekit car drive` sets it
            policy = load_policy(model, threads=1)
            infer = inference(policy, args.frames)
            flats = [flat_out(policy, size, args.frames, args.controller, port, tmp) for size in ((160, 120), (640, 480))]
            run = paced(policy, args.seconds, args.controller, port, tmp)
            evo_policy = load_policy(evo, threads=1)
            lidar = open_lidar(lidar_port)
            deadline = time.monotonic() + 5.0
            while lidar.latest() is None and time.monotonic() < deadline:
                time.sleep(0.01)
            evo_infer = inference(evo_policy, args.frames)
            evo_flats = [flat_out(evo_policy, size, args.frames, args.controller, port, tmp, lidar)
                         for size in ((160, 120), (640, 480))]
            evo_run = paced(evo_policy, args.seconds, args.controller, port, tmp, lidar)
            scans = (lidar.latest().index, lidar.dropped)
        finally:
            if lidar is not None:
                lidar.stop()
            received = child.communicate(timeout=30)[0].split() if child.poll() is None else ["?", "?"]
            turned = lidar_child.communicate(timeout=30)[0].split() if lidar_child.poll() is None else ["?"]
            for proc in (child, lidar_child):
                if proc.poll() is None:
                    proc.kill()
        evo_sent = sum(f["sent"] for f in evo_flats) + evo_run["sent"]  # the same controller takes both loops' bytes
        report(model, core, onnxruntime.__version__, policy, infer, flats, run, received, args.controller, evo_sent)
        report_sensors(evo, evo_infer, evo_flats, evo_run, flats, run, scans, turned)
    return 0


def report(model, core, ort_version, policy, infer, flats, run, received, controller, evo_sent: int = 0) -> None:
    cam = policy.spec.camera
    size = os.path.getsize(model)
    print(f"car loop on core {core} only ({os.cpu_count()} on the machine), onnxruntime {ort_version} with 1 thread")
    print(f"model: {os.path.basename(model)}, DeepRacer CNN, {cam.width}x{cam.height} "
          f"{'gray' if cam.channels == 1 else 'RGB'} x{cam.frame_stack} stack, {policy.spec.control_hz:g} Hz; "
          f"file size {size / 1e6:.2f} MB ({size} bytes)")
    print(f"{'':52} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7}")
    print(f"{'onnxruntime inference per frame':52} {infer[0]:7.2f} {infer[1]:7.2f} {infer[2]:7.2f}")
    for flat in flats:
        w, h = flat["size"]
        label = f"loop work per frame, {w}x{h} camera -> serial bytes"
        print(f"{label:52} {flat['work'][0]:7.2f} {flat['work'][1]:7.2f} {flat['work'][2]:7.2f}")
    label = f"paced {run['hz']:.1f} Hz, {run['ticks']} ticks, video camera 640x480"
    print(f"{label:52} {run['work'][0]:7.2f} {run['work'][1]:7.2f} {run['work'][2]:7.2f}")
    print("  per part in the paced run (p50/p99 ms): " + ", ".join(
        f"{name} {s['p50_ms']:.2f}/{s['p99_ms']:.2f}" for name, s in run["parts"].items() if name != "tick (all parts)"))
    sent = sum(f["sent"] for f in flats) + run["sent"] + evo_sent
    print(f"serial: {sent} {controller} commands written (both configurations), {received[0]} decoded by the "
          f"controller, {received[1]} bad; "
          f"paced run: {run['drive']} of {run['ticks']} ticks drove on the model, {run['missed']} missed deadlines")
    print("references (loop rate -> time per frame):")
    for name, hz in REFERENCES:
        print(f"  {name:10} {hz:4.0f} Hz  {1000 / hz:5.1f} ms per frame; "
              f"this loop's p99 work is {run['work'][1] / (1000 / hz):.1%} of it")
    worst_p99 = max(run["work"][1], *(f["work"][1] for f in flats))
    ok = run["hz"] >= BAR_HZ * 0.98 and run["missed"] == 0 and worst_p99 < BAR_P99_MS
    print(f"bar: sustain {BAR_HZ:g} Hz with p99 work < {BAR_P99_MS:g} ms per frame -> "
          f"{run['hz']:.1f} Hz sustained, worst p99 {worst_p99:.2f} ms ({BAR_P99_MS / worst_p99:.1f}x headroom): "
          f"{'PASS' if ok else 'FAIL'}")


def _row(label: str, ms) -> None:
    print(f"{label:52} {ms[0]:7.2f} {ms[1]:7.2f} {ms[2]:7.2f}")


def report_sensors(evo, infer, flats, run, camera_flats, camera_run, scans, turned) -> None:
    """The camera pair + LIDAR configuration, its p99 per step beside the camera-only one's."""
    size = os.path.getsize(evo)
    print(f"\nwith DeepRacer Evo's sensors: a camera pair (each frame paired by capture time) and a LIDAR read by the "
          f"RPLIDAR driver ({LIDAR_HZ:g} revolutions/s of {LIDAR_SAMPLES} samples over a pty)")
    print(f"model: {os.path.basename(evo)}, stereo-cameras + lidar, 80x60 grey x2 cameras x2 stack + 64 rays, "
          f"file size {size / 1e6:.2f} MB")
    print(f"{'':52} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7}")
    _row("onnxruntime inference per frame (frames + lidar)", infer)
    for flat in flats:
        w, h = flat["size"]
        _row(f"loop work per step, 2 x {w}x{h} cameras + LIDAR", flat["work"])
    _row(f"paced {run['hz']:.1f} Hz, {run['ticks']} ticks, 2 video cameras + LIDAR", run["work"])
    print("  per part in the paced run (p50/p99 ms): " + ", ".join(
        f"{name} {s['p50_ms']:.2f}/{s['p99_ms']:.2f}" for name, s in run["parts"].items()
        if name not in ("tick (all parts)", "stereo pair skew", "lidar scan age", "capture to command")))
    for name in ("stereo pair skew", "lidar scan age", "capture to command"):
        s = run["parts"].get(name)
        if s:
            print(f"  {name} in the paced run: p50 {s['p50_ms']:.1f} ms, p99 {s['p99_ms']:.1f} ms over {s['n']}")
    print(f"  LIDAR: {scans[0]} scans read, {scans[1]} bad samples; the device turned {turned[0]} times; paced run: "
          f"{run['drive']} of {run['ticks']} ticks drove on the model, {run['missed']} missed deadlines")
    print("p99 per step, camera only -> camera pair + LIDAR: " + ", ".join(
        f"{a['size'][0]}x{a['size'][1]} {a['work'][1]:.2f} -> {b['work'][1]:.2f} ms"
        for a, b in zip(camera_flats, flats)) + f", paced {camera_run['work'][1]:.2f} -> {run['work'][1]:.2f} ms")
    worst = max(run["work"][1], *(f["work"][1] for f in flats))
    ok = run["hz"] >= BAR_HZ * 0.98 and run["missed"] == 0 and worst < SENSORS_BAR_P99_MS
    print(f"bar (issue 24): p99 < {SENSORS_BAR_P99_MS:g} ms per step with a camera pair and a LIDAR at {BAR_HZ:g} Hz "
          f"-> {run['hz']:.1f} Hz sustained, worst p99 {worst:.2f} ms: {'PASS' if ok else 'FAIL'}")


if __name__ == "__main__":
    sys.exit(main())
