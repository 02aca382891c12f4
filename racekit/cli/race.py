"""`racekit race MODEL.onnx [MODEL.onnx ...]`: races under DeepRacer's rules, stored on the leaderboard.

A time trial by default; `--race-type object-avoidance [--objects N]` or `head-to-bot [--bots N --bot-speed V
--lane-changes]` put DeepRacer's boxes or bots on the track, the same options as `racekit train`, placed from
`--seed` (default 0) so every model of the command meets them in the same places (or the boxes at fixed
places: `--object-positions 0.25:left,0.5:right`). `--head-to-head` races two models at once, each seeing the
other's car (racekit/headtohead.py).

Every model file, the track, the rules and the database are checked before the
first race, so a bad file stops nothing half way. Each race then writes its
replay (OUT/<date>-<racer>-<id>/replay.mp4 and map.png; OUT defaults to
`replays/` beside the database) and is stored as soon as it ends: a later model
that fails does not lose the results before it.
"""
from __future__ import annotations

import sys
import time

from racekit.cli import UserError, options, one_line
from racekit.sim import RACE_TYPES  # racekit.sim itself loads nothing of the simulator

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
    options.add_race_type_options(types, RACE_TYPES)
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


def pick_track(args, entrants):
    from racekit.tracks import load_track

    if args.track:
        return load_track(args.track)
    trained = {e.metadata.get("track") for e in entrants}
    if len(trained) != 1 or None in trained:
        listed = ", ".join(sorted(str(t) for t in trained))
        raise UserError(f"give --track: the models do not name one track they were trained on ({listed})")
    return load_track(trained.pop())


def run_race(args) -> int:
    from racekit.leaderboard.db import open_board
    from racekit.racing import DEFAULT_MAX_RESETS, Rules, check_model, race_and_store, replay_root

    size = options.size(args.video_size, "--video-size", smallest=32, largest=3840, even=True)
    race_type = options.race_type(args)
    if args.head_to_head and len(args.models) != 2:
        raise UserError(f"--head-to-head races two models at once; got {len(args.models)}")
    if args.head_to_head and race_type != "time-trial":
        raise UserError("--head-to-head races on the track alone: give no --race-type (the other car is the object)")
    if not args.head_to_head and (args.stagger is not None or args.single_file):
        raise UserError("--stagger and --single-file set the grid of a --head-to-head race")
    fixed_boxes = () if args.object_positions is None else options.object_positions(args.object_positions)
    rules = Rules(laps=args.laps, reverse=args.reverse, offtrack_penalty=args.offtrack_penalty,
                  crash_penalty=args.crash_penalty,
                  max_resets=DEFAULT_MAX_RESETS if args.max_resets is None else args.max_resets,
                  race_type=race_type, bot_lane_changes=args.lane_changes, seed=args.seed,
                  object_positions=fixed_boxes,
                  **{name: value for name, value in (("num_objects", args.objects), ("num_bots", args.bots),
                                                     ("bot_speed", args.bot_speed)) if value is not None})
    entrants = [check_model(path, args.name) for path in args.models]
    track = pick_track(args, entrants)
    rules.check_fits(track)
    if args.head_to_head:
        return run_heat(args, entrants, track, rules, size)
    with open_board(args.db) as board:
        root = replay_root(args.out, board)
        direction = "reverse" if rules.reverse else "forward"
        print(f"racing {len(entrants)} model{'s' if len(entrants) != 1 else ''} on {track.name} ({direction}), "
              f"{rules.laps} lap{'s' if rules.laps != 1 else ''}{race_type_text(rules)}; "
              f"off-track +{rules.offtrack_penalty:g} s, "
              f"crash +{rules.crash_penalty:g} s, DNF after {rules.max_resets} resets; leaderboard {board.path}",
              flush=True)
        failed, done = [], []
        for i, entrant in enumerate(entrants, start=1):
            print(f"[{i}/{len(entrants)}] {entrant.racer}: {entrant.path} (sha256 {entrant.sha256[:12]})", flush=True)
            progress = Progress(rules)
            try:
                stored = race_and_store(entrant, track, rules, root, size, board, on_step=progress.on_step)
            except KeyboardInterrupt:
                raise
            except Exception as exc:  # noqa: BLE001 - one model's failure (any kind) must not stop the others
                print(f"racekit: error: race of {entrant.path} failed: {one_line(exc)}", file=sys.stderr, flush=True)
                failed.append(entrant.path)
                continue
            progress.finish(stored.outcome)
            print(f"  replay {stored.video}\n  map    {stored.track_map}", flush=True)
            print(f"  stored as result #{stored.run_id}", flush=True)
            done.append(board.get(stored.run_id))
        if len(entrants) > 1:
            summary(done)
    if failed:
        print(f"racekit: {len(failed)} of {len(entrants)} races failed; the others are stored", file=sys.stderr)
        return 1
    return 0


def run_heat(args, entrants, track, rules, size) -> int:
    """`--head-to-head`: the two models in one heat (racekit/headtohead.py), its lines and finishing order."""
    from racekit.headtohead import LETTERS, check_heat, race_heat, racer_names
    from racekit.leaderboard.db import open_board
    from racekit.racing import replay_root

    grid = check_heat(entrants, args.stagger, args.single_file)
    names = racer_names(entrants)
    with open_board(args.db) as board:
        root = replay_root(args.out, board)
        direction = "reverse" if rules.reverse else "forward"
        where = "on the centre line" if grid.single_file else "in the other lane"
        print(f"head-to-head on {track.name} ({direction}), {rules.laps} lap{'s' if rules.laps != 1 else ''}: "
              f"A {names[0]} (light blue) vs B {names[1]} (orange), "
              f"B starts {grid.stagger:g} m behind {where}; "
              f"off-track +{rules.offtrack_penalty:g} s, crash +{rules.crash_penalty:g} s (a contact: the car "
              f"behind), DNF after {rules.max_resets} resets; leaderboard {board.path}", flush=True)
        for letter, entrant in zip(LETTERS, entrants):
            sensors = ", ".join(entrant.camera.get("sensors") or ["front-camera"])
            print(f"  {letter}: {entrant.path} (sha256 {entrant.sha256[:12]}; {sensors})", flush=True)
        progress = [Progress(rules, label=f"{letter} ", crashes=True) for letter in LETTERS]
        try:
            heat = race_heat(entrants, names, track, rules, grid, root, size, board,
                             on_step=lambda i, info, events: progress[i].on_step(info, events))
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # noqa: BLE001 - a model failing mid-heat: one line, nothing half stored
            print(f"racekit: error: head-to-head of {entrants[0].path} and {entrants[1].path} failed: "
                  f"{one_line(exc)}", file=sys.stderr, flush=True)
            return 1
        for p, outcome in zip(progress, heat.outcomes):
            p.finish(outcome)
        print(f"  replay {heat.video}\n  map    {heat.track_map}", flush=True)
        print(f"  stored as heat #{heat.heat_id} (results #{heat.run_ids[0]} and #{heat.run_ids[1]})", flush=True)
        runs = [board.get(i) for i in heat.run_ids]
    print("\nfinishing order")
    for position, i in enumerate(heat.order, start=1):
        run = runs[i]
        result = "DNF" if run.dnf else f"{sum(run.lap_times):.2f} s"
        print(f"  {position}. {LETTERS[i]} {run.racer}: {result}, {len(run.lap_times)} of {run.laps_planned} laps, "
              f"{run.offtracks} off-tracks, {run.crashes} crashes")
    for c in heat.contacts:
        print(f"  contact at {c.sim_time:.2f} s: {LETTERS[c.hitter]} {names[c.hitter]} hit {LETTERS[c.hit]} "
              f"{names[c.hit]} from behind (lap {c.lap}): a crash for {LETTERS[c.hitter]}")
    if not heat.contacts:
        print("  no contact between the cars")
    return 0


def race_type_text(rules) -> str:
    """', object avoidance (6 boxes, seed 0)' and the like; '' for a time trial."""
    if rules.race_type == "object-avoidance":
        boxes = f"{rules.num_objects} box{'es' if rules.num_objects != 1 else ''}"
        if rules.object_positions:
            return f", object avoidance ({boxes} at {options.positions_text(rules.object_positions)})"
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
