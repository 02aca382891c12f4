"""`racekit race MODEL.onnx [MODEL.onnx ...]`: races under DeepRacer's rules, stored on the leaderboard.

A time trial by default; `--race-type object-avoidance [--objects N]` or `head-to-bot [--bots N --bot-speed V
--lane-changes]` put DeepRacer's boxes or bots on the track, the same options as `racekit train`, placed from
`--seed` (default 0) so every model of the command meets them in the same places. `--head-to-head` races
two models at once, each seeing the other's car (racekit/headtohead.py).

Every model file, the track, the rules and the database are checked before the
first race, so a bad file stops nothing half way. Each race then writes its
replay (OUT/<date>-<racer>-<id>/replay.mp4 and map.png; OUT defaults to
`replays/` beside the database) and is stored as soon as it ends: a later model
that fails does not lose the results before it.
"""
from __future__ import annotations

import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

from racekit.cli import UserError

STATUS_EVERY_S = 0.25  # the live status line on a terminal, redrawn at most this often


def register(subparsers) -> None:
    race = subparsers.add_parser("race", help="races of model files in the simulator (time trial, object avoidance, "
                                 "head-to-bot, head-to-head), stored on the leaderboard")
    race.add_argument("models", nargs="+", metavar="MODEL.onnx", help="model files (racekit export); "
                      "the same file twice races twice")
    race.add_argument("--track", help="built-in track or track file (default: the track the models were trained on)")
    race.add_argument("--laps", type=int, default=3, metavar="N", help="(default 3)")
    race.add_argument("--reverse", action="store_true", help="drive the track the other way")
    race.add_argument("--name", metavar="NAME", help="racer name on the leaderboard (default: the model file's name)")
    race.add_argument("--db", metavar="PATH", help="leaderboard file (default: $RACEKIT_DB, else ~/.local/share/racekit/...)")
    race.add_argument("--out", metavar="DIR", help="folder for the replays (default: replays/ beside the leaderboard file)")
    race.add_argument("--max-resets", type=int, default=None, metavar="N",  # resolved in run_race: racing
                      help="resets allowed before the run is a DNF (default 20)")  # loads numpy, the CLI must not
    race.add_argument("--offtrack-penalty", type=float, default=2.0, metavar="S", help="seconds per off-track (default 2)")
    race.add_argument("--crash-penalty", type=float, default=5.0, metavar="S", help="seconds per collision (default 5)")
    race.add_argument("--video-size", default="640x480", metavar="WxH", help="replay video size WxH (default 640x480)")
    types = race.add_argument_group("race types (DeepRacer's; the same options as racekit train)")
    types.add_argument("--race-type", default="time-trial", choices=("time-trial", "object-avoidance", "head-to-bot"),
                       help="time-trial (default); object-avoidance: boxes on the track; head-to-bot: bot cars")
    types.add_argument("--objects", type=int, default=None, metavar="N", help="object avoidance: boxes, 1-10 (default 6)")
    types.add_argument("--bots", type=int, default=None, metavar="N", help="head-to-bot: bot cars, 1-10 (default 3)")
    types.add_argument("--bot-speed", type=float, default=None, metavar="V", help="head-to-bot: m/s (default 0.2)")
    types.add_argument("--lane-changes", action="store_true", help="head-to-bot: bots change lanes every 3-5 s")
    types.add_argument("--seed", type=int, default=0, metavar="S",
                       help="where the boxes or bots go (default 0): the same for every model of a race")
    h2h = race.add_argument_group("head-to-head (two models on the track at once)")
    h2h.add_argument("--head-to-head", action="store_true",
                     help="race the two models at once, each seeing the other's car; contacts are a crash for "
                          "the car behind")
    h2h.add_argument("--stagger", type=float, default=None, metavar="M",
                     help="head-to-head grid: the second model starts M m behind the first (default 1.0), "
                          "side by side in the two lanes")
    h2h.add_argument("--single-file", action="store_true",
                     help="head-to-head grid: both on the centre line, the second one --stagger behind the first")
    race.set_defaults(func=run_race)


def video_size(value: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+)x(\d+)", value.strip().lower())
    if not match or not all(32 <= int(v) <= 3840 and int(v) % 2 == 0 for v in match.groups()):
        raise UserError(f"--video-size must be WxH with even sides from 32 to 3840, e.g. 640x480; got {value!r}")
    return int(match.group(1)), int(match.group(2))


def pick_track(args, entrants):
    from racekit.tracking import track_argument

    if args.track:
        return track_argument(args.track)
    trained = {e.metadata.get("track") for e in entrants}
    if len(trained) != 1 or None in trained:
        listed = ", ".join(sorted(str(t) for t in trained))
        raise UserError(f"give --track: the models do not name one track they were trained on ({listed})")
    return track_argument(trained.pop())


def run_race(args) -> int:
    from racekit.racing import DEFAULT_MAX_RESETS, RaceError, Rules, check_model

    size = video_size(args.video_size)
    if args.head_to_head and len(args.models) != 2:
        raise UserError(f"--head-to-head races two models at once; got {len(args.models)}")
    if args.head_to_head and args.race_type != "time-trial":
        raise UserError("--head-to-head races on the track alone: give no --race-type (the other car is the object)")
    if not args.head_to_head and (args.stagger is not None or args.single_file):
        raise UserError("--stagger and --single-file set the grid of a --head-to-head race")
    for flag, value, wanted in (("--objects", args.objects, "object-avoidance"), ("--bots", args.bots, "head-to-bot"),
                                ("--bot-speed", args.bot_speed, "head-to-bot"),
                                ("--lane-changes", args.lane_changes or None, "head-to-bot")):
        if value is not None and args.race_type != wanted:  # as racekit train: an option only with its race type
            raise UserError(f"{flag} is for --race-type {wanted}, not {args.race_type}")
    try:
        rules = Rules(laps=args.laps, reverse=args.reverse, offtrack_penalty=args.offtrack_penalty,
                      crash_penalty=args.crash_penalty,
                      max_resets=DEFAULT_MAX_RESETS if args.max_resets is None else args.max_resets,
                      race_type=args.race_type, bot_lane_changes=args.lane_changes, seed=args.seed,
                      **{name: value for name, value in (("num_objects", args.objects), ("num_bots", args.bots),
                                                         ("bot_speed", args.bot_speed)) if value is not None})
        entrants = [check_model(path, args.name) for path in args.models]
    except RaceError as exc:
        raise UserError(str(exc)) from None
    track = pick_track(args, entrants)
    try:
        rules.check_fits(track)
    except RaceError as exc:
        raise UserError(str(exc)) from None
    if args.head_to_head:
        from racekit.headtohead import run_heat

        return run_heat(args, entrants, track, rules, size)
    board = open_leaderboard(args.db)
    with board:
        out = replay_folder(args.out, board)
        direction = "reverse" if rules.reverse else "forward"
        print(f"racing {len(entrants)} model{'s' if len(entrants) != 1 else ''} on {track.name} ({direction}), "
              f"{rules.laps} lap{'s' if rules.laps != 1 else ''}{race_type_text(rules)}; "
              f"off-track +{rules.offtrack_penalty:g} s, "
              f"crash +{rules.crash_penalty:g} s, DNF after {rules.max_resets} resets; leaderboard {board.path}",
              flush=True)
        failed, done = [], []
        for i, entrant in enumerate(entrants, start=1):
            print(f"[{i}/{len(entrants)}] {entrant.racer}: {entrant.path} (sha256 {entrant.sha256[:12]})", flush=True)
            folder = Path(tempfile.mkdtemp(prefix=f"{time.strftime('%Y%m%d-%H%M%S')}-{slug(entrant.racer)}-",
                                           dir=out))
            try:
                run_id = race_one(entrant, track, rules, folder, size, board)
            except KeyboardInterrupt:
                shutil.rmtree(folder, ignore_errors=True)
                raise
            except Exception as exc:  # noqa: BLE001 - one model's failure (any kind) must not stop the others
                shutil.rmtree(folder, ignore_errors=True)  # half a replay, linked to no result
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                print(f"racekit: error: race of {entrant.path} failed: {first}", file=sys.stderr, flush=True)
                failed.append(entrant.path)
                continue
            print(f"  stored as result #{run_id}", flush=True)
            done.append(board.get(run_id))
        if len(entrants) > 1:
            summary(done)
    if failed:
        print(f"racekit: {len(failed)} of {len(entrants)} races failed; the others are stored", file=sys.stderr)
        return 1
    return 0


def race_type_text(rules) -> str:
    """', object avoidance (6 boxes, seed 0)' and the like; '' for a time trial."""
    if rules.race_type == "object-avoidance":
        boxes = f"{rules.num_objects} box{'es' if rules.num_objects != 1 else ''}"
        return f", object avoidance ({boxes}, seed {rules.seed})"
    if rules.race_type == "head-to-bot":
        changes = ", lane changes" if rules.bot_lane_changes else ""
        return (f", head-to-bot ({rules.num_bots} bot{'s' if rules.num_bots != 1 else ''} at "
                f"{rules.bot_speed:g} m/s{changes}, seed {rules.seed})")
    return ""


def summary(runs) -> None:
    """The races of this command side by side (the leaderboard ranks them with every earlier run)."""
    print(f"\n{'racer':<20} {'laps':>4} {'best lap':>9} {'total':>8} {'off-tracks':>10} {'crashes':>7}")
    for run in runs:
        best = f"{min(run.lap_times):.2f}" if run.lap_times else "-"
        total = "DNF" if run.dnf else f"{sum(run.lap_times):.2f}"
        print(f"{run.racer[:20]:<20} {len(run.lap_times):>4} {best:>9} {total:>8} {run.offtracks:>10} {run.crashes:>7}")
    print("ranked with every stored run: racekit leaderboard")


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)[:32] or "racer"


def race_one(entrant, track, rules, folder: Path, size, board) -> int:
    """One race with its replay and map; stores the result and returns its id."""
    from racekit import __version__
    from racekit.leaderboard.db import Run
    from racekit.racing import race
    from racekit.replay import ReplayVideo, save_png, track_map

    direction = "reverse" if rules.reverse else "forward"
    kind = {"object-avoidance": ", object avoidance", "head-to-bot": ", head-to-bot"}.get(rules.race_type, "")
    title = f"{entrant.racer} - {track.name}{' (reverse)' if rules.reverse else ''}{kind}"
    progress = Progress(rules)
    video_path, map_path = folder / "replay.mp4", folder / "map.png"
    with ReplayVideo(video_path, size, entrant.metadata["control_hz"], entrant.camera["channels"], rules.laps,
                     title) as video:
        def on_step(env, obs, info, events):
            video.on_step(env, obs, info, events)
            progress.on_step(info, events)

        outcome = race(entrant, track, rules, on_step=on_step)
    progress.finish(outcome)
    laps = "  ".join(f"{t:.2f}" for t in outcome.lap_times) or "no lap"
    top = float(max(a[1] for a in entrant.action_space["actions"])) if entrant.action_space["type"] == "discrete" \
        else float(entrant.action_space["speed_mps"][1])
    save_png(map_path, track_map(outcome, top, f"{title}   laps: {laps}"))
    print(f"  replay {video_path}\n  map    {map_path}", flush=True)
    return board.add(Run(
        kind="sim", track=track.name, direction=direction, racer=entrant.racer, lap_times=outcome.lap_times,
        model_sha256=entrant.sha256, model_meta=entrant.metadata, reward_sha256=entrant.metadata.get("reward_sha256"),
        laps_planned=rules.laps, offtracks=outcome.offtracks, crashes=outcome.crashes, resets=outcome.resets,
        dnf=outcome.dnf, termination=outcome.termination, rules=rules.as_dict(), video=str(video_path.resolve()),
        track_map=str(map_path.resolve()), racekit_version=__version__, race_type=rules.race_type,
        offtracks_per_lap=outcome.offtracks_per_lap, crashes_per_lap=outcome.crashes_per_lap,
        run_dir=training_run(entrant.path)))


def training_run(model: Path) -> str | None:
    """The training run a model file lies in (`racekit export RUN -o RUN/model.onnx`), or None."""
    from racekit.leaderboard.db import is_training_run

    folder = Path(model).resolve().parent
    return str(folder) if is_training_run(folder) else None


def open_leaderboard(db):
    """The leaderboard of --db (or its default), a clear error if it cannot be had."""
    from racekit.leaderboard.db import Leaderboard, LeaderboardError

    try:
        return Leaderboard(db)
    except LeaderboardError as exc:
        raise UserError(str(exc)) from None


def replay_folder(out: str | None, board) -> Path:
    """--out, or replays/ beside the database: made if need be, a clear error if it cannot be."""
    folder = Path(out) if out else board.path.parent / "replays"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"{folder}: cannot make the replay folder ({exc.strerror or exc})") from None
    return folder


class Progress:
    """Live progress: a line per lap and per incident; on a terminal also a status line redrawn in place."""

    def __init__(self, rules, stream=None, label: str = "", crashes: bool | None = None):
        self.rules = rules
        self.label = label  # head-to-head: which car a line is about
        self.crashes = rules.race_type != "time-trial" if crashes is None else crashes  # a lap line counts them
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty()
        self._last = 0.0

    def on_step(self, info, events) -> None:
        from racekit.replay import lap_clock

        for event in events:
            if event["kind"] == "lap":
                n, c = event["offtracks"], event["crashes"]
                crashes = f", {c} crash{'es' if c != 1 else ''}" if self.crashes else ""
                self._line(f"  {self.label}lap {event['lap']}: {event['seconds']:.2f} s, "
                           f"{n} off-track{'s' if n != 1 else ''}{crashes}")
            else:
                what = {"off_track": "off track", "crash": "crash", "reset": "stuck or backwards"}[event["kind"]]
                tail = "DNF" if event["dnf"] else f"+{event['penalty']:g} s, reset {event['resets']}/" \
                                                  f"{self.rules.max_resets}"
                self._line(f"  {self.label}{what} on lap {event['lap']} at {event['progress']:.0f}%: {tail}")
        now = time.monotonic()
        if self.tty and now - self._last >= STATUS_EVERY_S:
            self._last = now
            lap = min(len(info["lap_times"]) + 1, self.rules.laps)
            self.stream.write(f"\r  lap {lap}/{self.rules.laps}  {lap_clock(info):6.2f} s  {info['progress']:5.1f}%"
                              f"  off-tracks {info['offtracks']}  crashes {info['crashes']}\x1b[K")
            self.stream.flush()

    def finish(self, outcome) -> None:
        times = outcome.lap_times
        if outcome.dnf:
            why = "too many resets" if outcome.termination == "dnf" else outcome.termination
            head = f"DNF ({why}) after {len(times)} lap{'s' if len(times) != 1 else ''}"
        else:
            head = f"finished {len(times)} lap{'s' if len(times) != 1 else ''} in {sum(times):.2f} s"
        best = f", best lap {min(times):.2f} s" if times else ""
        self._line(f"  {head}{best}, {outcome.offtracks} off-tracks, {outcome.crashes} crashes, "
                   f"{outcome.resets} resets")

    def _line(self, text: str) -> None:
        self.stream.write(("\r\x1b[K" if self.tty else "") + text + "\n")
        self.stream.flush()
