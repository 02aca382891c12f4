"""`racekit sim demo`: watch the expert driver lap a track, as a video with the car's camera inset."""
from __future__ import annotations

from pathlib import Path

from racekit.cli import UserError, options


def register(subparsers) -> None:
    sim = subparsers.add_parser("sim", help="the simulator")
    sub = sim.add_subparsers(dest="sim_command", required=True)
    demo = sub.add_parser("demo", help="video of the expert driver's lap, with the camera view inset")
    demo.add_argument("--track", default=None, help="built-in track name or track file (default: the default track)")
    demo.add_argument("--out", required=True, help="MP4 file to write")
    demo.add_argument("--reverse", action="store_true", help="drive the track the other way")
    demo.add_argument("--max-speed", type=float, default=4.0, help="expert's speed limit in m/s (default 4)")
    demo.add_argument("--size", default="640x480", help="video size WxH (default 640x480)")
    demo.set_defaults(func=run_demo)
    from racekit.cli.simserve import register_serve  # `sim serve`: the stand-in car, in its own module

    register_serve(sub)


def run_demo(args) -> int:
    from racekit.sim.env import TimeTrialEnv
    from racekit.sim.expert import ExpertDriver, drive_lap
    from racekit.sim.video import VideoWriter, chase_frame
    from racekit.tracks import DEFAULT_TRACK, load_track

    width, height = options.size(args.size, "--size")
    if args.max_speed <= 0.5:
        raise UserError(f"--max-speed must be above 0.5 m/s, got {args.max_speed}")
    track = load_track(args.track or DEFAULT_TRACK, reverse=args.reverse)
    env = TimeTrialEnv(track=track, camera_width=160, camera_height=120, grayscale=False)
    out = Path(args.out)
    try:
        with VideoWriter(out, (width, height), fps=env.metadata["render_fps"]) as video:
            def record(obs, reward, info):
                lines = [f"{track.name}  t = {info['sim_time']:5.2f} s", f"progress {info['progress']:5.1f} %",
                         f"speed {env.world.car.speed():4.2f} m/s"]
                video.write(chase_frame(env.world.client, env.world.car, (width, height), obs, obs.shape[2], lines))

            result = drive_lap(env, ExpertDriver(env, max_speed=args.max_speed), on_step=record)
    finally:
        env.close()
    if result["lap_time"] is None:
        print(f"the expert did not finish: {result['termination']} after {result['steps']} steps")
        return 1
    print(f"{track.name}: lap in {result['lap_time']:.2f} s of simulated time ({result['steps']} steps), "
          f"video written to {out}")
    return 0
