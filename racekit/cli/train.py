"""`racekit train`: PPO (or --algorithm sac: agent/sac.py) from pixels into a run directory (agent.train).
Ctrl-C or SIGTERM keeps the last checkpoint and exits 130, a failing reward function exits 2; both say how
to resume. (`racekit evaluate`: cli/evaluate.py; `racekit export`: cli/export.py.)
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from racekit.cli import UserError, options
from racekit.sim import RACE_TYPES  # racekit.sim itself loads nothing of the simulator

MIN_CAMERA = 36  # smallest side DeepRacer's conv stack (8/4, 4/2, 3/1) can take
NEW_RUN_ONLY = ("track", "alternate_direction", "race_type", "objects", "object_positions", "bots", "bot_speed",
                "lane_changes", "randomize", "from_model", "reward", "seed", "envs", "rollout_steps", "minibatch",
                "epochs", "learning_rate", "eval_every", "eval_laps", "eval_placements", "camera", "rgb",
                "frame_stack", "steering_range", "speed_range", "discrete", "actions", "track_episodes", "no_simtrace",
                "envs_per_worker", "entropy", "discount", "bootstrap_at_finish", "distribution", "network", "algorithm",
                "replay_ratio", "buffer", "warmup", "sensor", "lidar_sectors", "lidar_values", "lidar_clip",
                "keep_checkpoints")
FLAGS = {"from_model": "--from"}  # options whose flag is not their name
# agent/networks.py's NETWORKS, named here so that parsing needs no torch (tests/test_cli_train.py checks them)
NETWORK_NAMES = ("racekit", "deepracer-shallow", "deepracer-standard", "deepracer-deep")


def register(subparsers) -> None:
    train = subparsers.add_parser("train", help="train a driver from camera pixels with PPO (or SAC)")
    train.add_argument("--out", required=True, help="run directory, e.g. runs/NAME")
    train.add_argument("--track", action="append", default=None, metavar="TRACK",
                       help="built-in track name, track file, generated:SEED, or 'generated' (a fresh generated "
                            "track every --track-episodes episodes); repeat it to train on several tracks at once "
                            "(default: the default track). A one-track run is evaluated on its track, a run on several "
                            "on a fixed panel (agent/panel.py)")
    train.add_argument("--alternate-direction", action="store_true",
                       help="every other episode drives the track the other way round")
    options.add_race_type_options(train, RACE_TYPES)
    train.add_argument("--randomize", nargs="?", const="default", default=None, metavar="PRESET|FILE",
                       help="domain randomisation: a preset (the bare flag: default) or a randomisation file")
    train.add_argument("--from", dest="from_model", default=None, metavar="RUN_OR_MODEL",
                       help="start a new run from another run's policy (its best checkpoint, else last), a .pt "
                            "file, or a DeepRacer model (car tarball, training prefix, model.pb: its network, "
                            "camera and action space are the run's); camera and action space must match")
    train.add_argument("--reward", default=None,
                       help="reward file (default: DeepRacer's follow-the-centre-line example)")
    train.add_argument("--steps", type=int, default=None, help="env steps in all (default 200000, or no step cap "
                                                             "with --minutes; with --resume: a larger number "
                                                             "extends the run)")
    train.add_argument("--envs", type=int, default=None, help="envs stepping in parallel (default 4)")
    train.add_argument("--seed", type=int, default=None, help="(default 0)")
    train.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    train.add_argument("--minutes", type=float, default=None,
                       help="stop after this much wall-clock time (alone, without --steps: the run trains that long)")
    train.add_argument("--until-clean", action="store_true",
                       help="stop at the first evaluation whose laps are all clean (with --minutes as a cap)")
    train.add_argument("--keep-checkpoints", action="store_true",
                       help="keep each evaluation's checkpoint too, RUN/checkpoints/step-N.pt (racekit export takes "
                            "one by its path)")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.add_argument("--no-simtrace", action="store_true",
                       help="no DeepRacer sim-trace logs (training-simtrace/, evaluation-*/) in the run directory")
    adv = train.add_argument_group("advanced (new runs only; a resumed run keeps its own)")
    adv.add_argument("--algorithm", choices=("ppo", "sac"), default=None,
                     help="ppo (the default) or sac: soft actor-critic with a replay buffer and image augmentation "
                          "(agent/sac.py), continuous actions only; --envs, --rollout-steps, --minibatch (its batch), "
                          "--learning-rate, --discount and --bootstrap-at-finish apply to either")
    adv.add_argument("--replay-ratio", type=float, default=None,
                     help="SAC: gradient updates per env step collected (default 0.25)")
    adv.add_argument("--buffer", type=int, default=None, metavar="TRANSITIONS",
                     help="SAC: the replay buffer's size (default: sized from this machine's memory, at most 1.5 GB)")
    adv.add_argument("--warmup", type=int, default=None, metavar="STEPS",
                     help="SAC: env steps in the replay buffer before updates start, and again after --resume "
                          "(default 2000)")
    adv.add_argument("--rollout-steps", type=int, help="steps per env per update (default 256)")
    adv.add_argument("--envs-per-worker", type=int,
                     help="envs each rollout worker process steps, with its own copy of the policy (default 2)")
    adv.add_argument("--minibatch", type=int, help="PPO minibatch (default 128)")
    adv.add_argument("--epochs", type=int, help="PPO epochs per update (default 4)")
    adv.add_argument("--learning-rate", type=float, help="Adam learning rate (default 7.3e-4 for PPO)")
    adv.add_argument("--entropy", type=float, help="entropy bonus coefficient (default 0)")
    adv.add_argument("--discount", type=float, help="discount factor gamma (default 0.95 for PPO)")
    adv.add_argument("--bootstrap-at-finish", action="store_true",
                     help="value a finished lap as if the race went on, so faster laps always score more "
                          "(default: the finish ends the episode's returns, as in DeepRacer)")
    adv.add_argument("--distribution", choices=("gaussian", "beta"), default=None,
                     help="the policy's distribution over continuous actions: beta (never outside the ranges; "
                          "the default) or gaussian (sampled, then clipped to them, as DeepRacer's PPO; the "
                          "default with --network deepracer-*); with --from, the model's own")
    adv.add_argument("--network", choices=tuple(NETWORK_NAMES), default=None,
                     help="the policy's network: racekit's (the default) or one of DeepRacer's presets, which "
                          "export to a DeepRacer car (racekit export --format deepracer) and see DeepRacer's "
                          "160x120 single frame unless --camera and --frame-stack say otherwise")
    adv.add_argument("--sensor", action="append", default=None, metavar="SENSOR",
                     help="the car's sensors, DeepRacer's: one camera (front-camera, the default, or "
                          "stereo-cameras) and at most one LIDAR (lidar, sector-lidar, discretized-sector-lidar); "
                          "repeat it, e.g. --sensor stereo-cameras --sensor lidar")
    adv.add_argument("--lidar-sectors", type=int, help="discretized-sector-lidar: sectors, dividing 64 (default 8)")
    adv.add_argument("--lidar-values", type=int, help="discretized-sector-lidar: distance bins a sector (default 8)")
    adv.add_argument("--lidar-clip", type=float, help="discretized-sector-lidar: farthest distance, m (default 2)")
    adv.add_argument("--eval-every", type=int, help="env steps between evaluations (default 25000)")
    adv.add_argument("--eval-laps", type=int, help="laps per evaluation (default 3)")
    adv.add_argument("--eval-placements", type=int, help="with boxes or bots: placements an evaluation races, "
                                                         "--eval-laps laps each (default 1)")
    adv.add_argument("--camera", help="camera size WxH (default 80x60)")
    adv.add_argument("--rgb", action="store_true", help="colour camera (default grayscale)")
    adv.add_argument("--frame-stack", type=int, help="frames per observation (default 2)")
    adv.add_argument("--steering-range", type=float, nargs=2, metavar=("LOW", "HIGH"), help="degrees (default -30 30)")
    adv.add_argument("--speed-range", type=float, nargs=2, metavar=("LOW", "HIGH"), help="m/s (default 0.5 4)")
    adv.add_argument("--discrete", action="store_true", help="DeepRacer's default discrete action list")
    adv.add_argument("--actions", metavar="FILE",
                     help="a discrete action list of your own: a JSON list of {\"steering_angle\", \"speed\"} "
                          "as DeepRacer's model_metadata.json action_space (or that whole file)")
    adv.add_argument("--track-episodes", type=int,
                     help="episodes an env drives one track before the next or a new generated one (default 20)")
    # --ray hook: rollouts in Ray actors (agent/distributed.py); session options, a resumed run may change them
    dist = train.add_argument_group("distributed rollouts (pip install racekit[ray])")
    dist.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                      help="collect rollouts in Ray actors: 'local' (the bare flag: start Ray here, stop it at the "
                           "end), 'auto' or HOST:PORT (join a running cluster)")
    dist.add_argument("--ray-actors", type=int, default=None, help="rollout actors; they split --envs (default 2)")
    dist.add_argument("--ray-cpus", type=float, default=None, help="CPUs per rollout actor (default 1)")
    train.set_defaults(func=run_train)


def new_run_config(args):
    """RunConfig from the command line; checks what would otherwise fail deep inside a worker."""
    from racekit.agent.schedule import GENERATED
    from racekit.agent.train import RunConfig
    from racekit.sim import DEEPRACER_ACTIONS
    from racekit.sim.reward import load_reward
    from racekit.tracks import DEFAULT_TRACK, load_track

    cfg = RunConfig(seed=args.seed or 0, minutes=args.minutes, simtrace=not args.no_simtrace,
                    stop_when_clean=args.until_clean, keep_checkpoints=args.keep_checkpoints)
    if args.minutes is not None:
        if not args.minutes > 0:
            raise UserError(f"--minutes must be more than 0, got {args.minutes:g}")
        if args.steps is None:
            cfg.steps = None  # minutes asked for, minutes given: no default step cap cuts the run short
    tracks, named = [], []
    for track in args.track or [DEFAULT_TRACK]:
        if track == GENERATED:
            tracks.append(track)
            continue
        named.append(load_track(track))
        # files are stored absolute: workers and a later --resume may run from another folder
        tracks.append(str(Path(track).resolve()) if Path(track).is_file() else track)
    if len(tracks) == 1 and tracks[0] != GENERATED:
        cfg.track = tracks[0]
    else:
        cfg.tracks = tracks
    cfg.alternate_direction = args.alternate_direction
    race_config(cfg, args, named)
    if args.randomize is not None:
        cfg.randomize = randomization_argument(args.randomize)
    if args.network is not None:
        cfg.network = args.network
        if args.network != "racekit":  # DeepRacer's input, unless asked otherwise below
            cfg.camera_width, cfg.camera_height, cfg.frame_stack = 160, 120, 1
    if args.from_model is not None:
        # checked against this run's camera and actions by train(); without --distribution, the model's own
        cfg.from_model = {"path": args.from_model, "follow_distribution": args.distribution is None}
        take_deepracer_model(cfg, args)
    if args.reward:
        for note in load_reward(args.reward).notes:  # a bad file: RewardError, one line naming its line
            print(f"racekit: warning: {note}", file=sys.stderr)
        cfg.reward = str(Path(args.reward).resolve())
    counts = [(cfg, "--steps"), (cfg, "--eval-every"), (cfg, "--eval-laps"), (cfg, "--eval-placements"),
              (cfg, "--frame-stack"), (cfg.ppo, "--envs"), (cfg.ppo, "--rollout-steps"), (cfg.ppo, "--minibatch"),
              (cfg.ppo, "--epochs"), (cfg, "--track-episodes"), (cfg, "--envs-per-worker")]
    for target, flag in counts:
        key = flag[2:].replace("-", "_")  # the option's name is the config field's
        value = getattr(args, key)
        if value is not None:
            if value < 1:
                raise UserError(f"{flag} must be at least 1, got {value}")
            setattr(target, key, value)
    if args.learning_rate is not None:
        if not args.learning_rate > 0:
            raise UserError(f"--learning-rate must be more than 0, got {args.learning_rate:g}")
        cfg.ppo.learning_rate = args.learning_rate
    if args.entropy is not None:
        if not args.entropy >= 0:
            raise UserError(f"--entropy must be at least 0, got {args.entropy:g}")
        cfg.ppo.entropy = args.entropy
    if args.discount is not None:
        if not 0 < args.discount <= 1:
            raise UserError(f"--discount must be more than 0 and at most 1, got {args.discount:g}")
        cfg.ppo.gamma = args.discount
    if args.bootstrap_at_finish:
        cfg.ppo.bootstrap_at_finish = True
    if args.distribution is not None:
        cfg.ppo.distribution = args.distribution
    if args.camera:
        cfg.camera_width, cfg.camera_height = options.size(args.camera, "--camera")
        if min(cfg.camera_width, cfg.camera_height) < MIN_CAMERA:
            raise UserError(f"--camera must be at least {MIN_CAMERA}x{MIN_CAMERA} for the network, got {args.camera}")
    cfg.grayscale = not args.rgb
    if args.steering_range:
        cfg.steering_range = tuple(args.steering_range)
    if args.speed_range:
        cfg.speed_range = tuple(args.speed_range)
    if args.discrete:
        if args.distribution == "beta":
            raise UserError("--distribution beta is for continuous actions, not --discrete's action list")
        cfg.actions = [list(a) for a in DEEPRACER_ACTIONS]
    if args.actions:
        cfg.actions = action_list(args)
    if args.distribution is None and (cfg.actions is not None or cfg.network != "racekit"):
        # an action list's policy is a categorical; DeepRacer's networks go to DeepRacer's cars, whose
        # continuous PPO is a Gaussian
        cfg.ppo.distribution = "gaussian"
    for name, (low, high) in (("--steering-range", cfg.steering_range), ("--speed-range", cfg.speed_range)):
        if not low < high:
            raise UserError(f"{name} must be LOW < HIGH, got {low} {high}")
    if max(abs(v) for v in cfg.steering_range) > 30:
        raise UserError(f"--steering-range must stay within the car's +/-30 degrees, got {list(cfg.steering_range)}")
    sensor_config(cfg, args)
    sac_config(cfg, args)
    return cfg


def action_list(args) -> list[list[float]]:
    """--actions FILE: the discrete action list in it; one line naming the file and entry if it is not one."""
    from racekit.agent.deepracer.errors import DeepRacerError
    from racekit.agent.deepracer.metadata import parse_action_list

    for flag, value in (("--discrete", args.discrete), ("--steering-range", args.steering_range),
                        ("--speed-range", args.speed_range)):
        if value:
            raise UserError(f"--actions gives the action list: leave out {flag}")
    if args.distribution == "beta":
        raise UserError("--distribution beta is for continuous actions, not --actions' action list")
    try:
        text = Path(args.actions).read_bytes()
    except OSError as exc:
        raise UserError(f"--actions {args.actions}: {exc.strerror}") from None
    try:
        return [list(a) for a in parse_action_list(text, args.actions)]
    except DeepRacerError as exc:
        raise UserError(f"--actions {exc}") from None


def sensor_config(cfg, args) -> None:
    """--sensor and the discretised LIDAR's settings: DeepRacer's rules, one line for what breaks them."""
    from racekit.sim.sensors import LidarConfig, SensorError, check_sensors

    settings = {"num_sectors": args.lidar_sectors, "num_values_per_sector": args.lidar_values,
                "clipping_dist": args.lidar_clip}
    settings = {k: v for k, v in settings.items() if v is not None}
    try:
        sensors = check_sensors(args.sensor or ["front-camera"])
        if settings and "discretized-sector-lidar" not in sensors:
            raise SensorError("--lidar-sectors, --lidar-values and --lidar-clip set the discretized-sector-lidar; "
                              "add --sensor discretized-sector-lidar")
        lidar = LidarConfig(**settings).to_dict() if "discretized-sector-lidar" in sensors else None
    except SensorError as exc:
        raise UserError(f"--sensor: {exc}") from None
    if "stereo-cameras" in sensors and not cfg.grayscale:
        raise UserError("--sensor stereo-cameras: the pair's pictures are grey (DeepRacer's); leave out --rgb")
    cfg.sensors, cfg.lidar_config = list(sensors), lidar


def sac_config(cfg, args) -> None:
    """--algorithm sac: the options both algorithms have go to SAC's settings (agent/sac.py); PPO's own, a
    discrete action space and another distribution are refused, one line each."""
    from racekit.agent.ppo import PPOConfig

    if args.algorithm != "sac":
        for flag, value in (("--replay-ratio", args.replay_ratio), ("--buffer", args.buffer),
                            ("--warmup", args.warmup)):
            if value is not None:
                raise UserError(f"{flag} is for --algorithm sac")
        return
    if cfg.actions is not None:
        what = ("--discrete's action list" if args.discrete else "--actions' action list" if args.actions
                else "the action list of the model it starts from")
        raise UserError(f"--algorithm sac needs continuous actions (--steering-range, --speed-range), not {what}")
    if args.distribution is not None:
        raise UserError(f"--distribution {args.distribution} is for PPO: SAC's policy is its own tanh-squashed "
                        f"Gaussian (leave out --distribution)")
    for flag, value in (("--epochs", args.epochs), ("--entropy", args.entropy)):
        if value is not None:
            raise UserError(f"{flag} is for PPO: SAC " + ("tunes its entropy coefficient itself" if flag == "--entropy"
                                                          else "makes --replay-ratio updates per env step"))
    if args.replay_ratio is not None:
        if not args.replay_ratio > 0:
            raise UserError(f"--replay-ratio must be more than 0, got {args.replay_ratio:g}")
        cfg.sac.replay_ratio = args.replay_ratio
    if args.buffer is not None:
        if args.buffer < 1000:
            raise UserError(f"--buffer must be at least 1000 transitions, got {args.buffer}")
        cfg.sac.buffer_size = args.buffer
    if args.warmup is not None:
        if args.warmup < 0:
            raise UserError(f"--warmup must be at least 0, got {args.warmup}")
        cfg.sac.warmup_steps = args.warmup
    cfg.algorithm = "sac"
    given = {"envs": "envs", "rollout_steps": "rollout_steps", "minibatch": "batch_size",
             "learning_rate": "learning_rate", "discount": "gamma"}
    for option, field in given.items():
        if getattr(args, option) is not None:
            setattr(cfg.sac, field, getattr(cfg.ppo, "gamma" if option == "discount" else option))
    cfg.sac.bootstrap_at_finish = cfg.ppo.bootstrap_at_finish
    cfg.ppo = PPOConfig()  # PPO's settings stay its defaults: the run's are SAC's


def take_deepracer_model(cfg, args) -> None:
    """--from a DeepRacer model: the run takes its network, camera (DeepRacer's lens, mount and look) and
    action space, except where an option asks for its own (then train() names the difference)."""
    from racekit.agent.deepracer.errors import DeepRacerError
    from racekit.agent.deepracer.importer import DEEPRACER_CAMERA
    from racekit.agent.deepracer.metadata import parse_metadata
    from racekit.agent.deepracer.sources import is_deepracer_source, open_source

    if not is_deepracer_source(args.from_model):
        return
    try:
        source = open_source(args.from_model)
        meta = parse_metadata(source.metadata, source.metadata_name)
    except DeepRacerError as exc:
        raise UserError(f"--from {exc}") from None
    if args.network is None:
        cfg.network = meta.network
    if args.sensor is None:  # the model's sensors, and its discretised LIDAR's settings (sensor_config reads them)
        args.sensor = meta.racekit_sensors
        for option, key in (("lidar_sectors", "num_sectors"), ("lidar_values", "num_values_per_sector"),
                            ("lidar_clip", "clipping_dist")):
            if meta.lidar_config and getattr(args, option) is None:
                setattr(args, option, meta.lidar_config[key])
    camera = DEEPRACER_CAMERA
    cfg.camera_width, cfg.camera_height, cfg.frame_stack = camera["width"], camera["height"], camera["frame_stack"]
    cfg.fov_deg, cfg.camera_mount, cfg.look = camera["fov_deg"], camera["mount"], camera["look"]
    if not (args.discrete or args.actions or args.steering_range or args.speed_range):
        if meta.actions.discrete:
            cfg.actions = [list(a) for a in meta.actions.table]
        else:
            cfg.steering_range, cfg.speed_range = ((meta.actions.low[0], meta.actions.high[0]),
                                                   (meta.actions.low[1], meta.actions.high[1]))


def race_config(cfg, args, tracks: list) -> None:
    """--race-type and its options into cfg; each option only with its race type, the objects fitting every
    named track (generated tracks are drawn until they fit: agent/schedule.py)."""
    race_type = options.race_type(args)
    cfg.race_type = race_type
    if args.objects is not None:
        cfg.num_objects = args.objects
    if args.object_positions is not None:  # the boxes at fixed places: as many as the positions
        cfg.object_positions = [list(p) for p in options.object_positions(args.object_positions)]
        cfg.num_objects = len(cfg.object_positions)
    if args.bots is not None:
        cfg.num_bots = args.bots
    if args.bot_speed is not None:
        cfg.bot_speed = args.bot_speed
    cfg.bot_lane_changes = bool(args.lane_changes)
    if race_type == "time-trial":
        return
    from racekit.sim.objects import ObjectOptions

    objects = ObjectOptions(**cfg.race_kwargs())
    what = f"{objects.count} {'boxes' if race_type == 'object-avoidance' else 'bots'}"
    for track in tracks:
        try:
            objects.check_fits(track)
        except ValueError:
            raise UserError(f"--race-type {race_type}: {what} do not fit the {track.length:.1f} m lap of "
                            f"{track.name}; give fewer") from None


def randomization_argument(value: str) -> str:
    """--randomize's preset name, or its file as an absolute path, checked by sim/randomization.py."""
    try:
        from racekit.sim.randomization import PRESETS, RandomizationError, as_randomization
    except ImportError:
        raise UserError("--randomize: this racekit's simulator has no domain randomisation "
                        "(racekit.sim.randomization is missing)") from None
    given = value if value in PRESETS or not Path(value).is_file() else str(Path(value).resolve())
    try:
        as_randomization(given)  # a bad preset or file: its message (the field and the bad value), in one line
    except (RandomizationError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"--randomize {value}: {first}") from None
    return given


def run_train(args) -> int:
    from racekit.agent.checkpoint import load_checkpoint
    from racekit.agent.train import RunConfig, train
    from racekit.sim.reward import RewardError

    out = Path(args.out)
    last = out / "checkpoints" / "last.pt"
    resume_hint = f"resume with: racekit train --out {out} --resume"
    if args.resume:
        fixed = [FLAGS.get(name, f"--{name.replace('_', '-')}") for name in NEW_RUN_ONLY
                 if getattr(args, name) not in (None, False)]
        if fixed:
            raise UserError(f"{', '.join(fixed)} cannot change when resuming: the run keeps its own settings "
                            f"(see {out / 'config.json'}); only --steps, --minutes and --until-clean apply")
        # only these apply to a resumed run
        cfg = RunConfig(steps=args.steps or 0, minutes=args.minutes, stop_when_clean=args.until_clean)
    else:
        cfg = new_run_config(args)

    if args.ray is not None and args.algorithm == "sac":
        raise UserError("--ray: distributed rollouts are PPO's only so far; a SAC run collects with local rollout "
                        "workers (leave out --ray)")
    ray = ray_options(args)  # --ray hook

    def kept() -> str:
        if not last.is_file():
            return "no checkpoint had been written yet"
        return f"the last checkpoint is kept: {last} (step {load_checkpoint(last)['global_step']})"

    try:
        summary = train(out, cfg, resume=args.resume, quiet=args.quiet, **({"ray": ray} if ray else {}))
    except RewardError as exc:
        print(f"racekit: error: {exc}", file=sys.stderr)
        if last.is_file():
            print(f"racekit: {kept()}; fix the reward file, then {resume_hint}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # before the training loop had started (it catches its own)
        summary = {"outcome": "interrupted"}
    if summary["outcome"] == "interrupted":
        print(f"racekit: interrupted; {kept()}; {resume_hint}", file=sys.stderr)
        return 130
    step = summary["global_step"]
    if summary["outcome"] == "time budget reached":
        print(f"time budget reached at step {step}; {resume_hint} (and --minutes) to go on")
    elif summary["outcome"] == "clean laps":
        print(f"clean laps: the evaluation at step {step} drove every lap without leaving the track, after "
              f"{summary['wall_seconds'] / 60:.1f} minutes of training")
    else:
        print(f"done: {step} steps in {out}")
    print_evaluations(summary)
    compare_with_recipe(out, summary)
    print(f"export the model with: racekit export {out} -o {out / 'model.onnx'}")
    return 0


def print_evaluations(summary: dict) -> None:
    """One line on the run's evaluations, so an unlucky run is known as one before it is exported."""
    last = summary.get("last_evaluation")
    if not last:
        return
    n, clean = summary["evaluations"], summary["clean_evaluations"]
    where = " over the panel" if last["track"] == "panel" else ""
    mean = f", mean lap {last['mean_lap_time']:.2f} s" if last["mean_lap_time"] else ""
    print(f"evaluations: {clean} of {n} drove every lap clean; the last {last['clean_laps']}/{last['laps']} clean "
          f"laps{where}{mean}")
    if clean == 0:
        print(f"racekit: warning: no evaluation of this run drove every lap clean{where}: its model leaves the "
              f"track. Train it on (--resume with more --minutes) or train another seed", file=sys.stderr)


def ray_options(args):
    """--ray and its options as agent.distributed.RayOptions (None without --ray); Ray missing: one line."""
    if args.ray is None:
        for flag, value in (("--ray-actors", args.ray_actors), ("--ray-cpus", args.ray_cpus)):
            if value is not None:
                raise UserError(f"{flag} is for --ray")
        return None
    from racekit.agent.distributed import INSTALL_HINT, RayOptions

    try:
        import ray  # noqa: F401
    except ImportError:
        raise UserError(INSTALL_HINT) from None
    options = RayOptions(address=args.ray)
    if args.ray_actors is not None:
        if args.ray_actors < 1:
            raise UserError(f"--ray-actors must be at least 1, got {args.ray_actors}")
        options.actors = args.ray_actors
    if args.ray_cpus is not None:
        if not args.ray_cpus > 0:
            raise UserError(f"--ray-cpus must be more than 0, got {args.ray_cpus:g}")
        options.cpus_per_actor = args.ray_cpus
    return options


def compare_with_recipe(run: Path, summary: dict) -> None:
    """How this run's first clean evaluation compares with what its recipe usually reaches (racekit/recipes.py)."""
    from racekit.agent.logbook import read_evaluations
    from racekit.recipes import comparison

    config = json.loads((run / "config.json").read_text())["run"]
    evaluations = read_evaluations(run)
    line = comparison(config, evaluations, evaluations[-1]["wall_seconds"] / 60 if evaluations else 0.0)
    if line is not None:
        print(line)
