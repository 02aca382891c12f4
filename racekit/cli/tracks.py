"""`racekit tracks list`, `racekit tracks show TRACK --out map.png` and `racekit tracks generate --out DIR`."""
from __future__ import annotations

import re
from pathlib import Path

from racekit.cli import UserError


def register(subparsers) -> None:
    tracks = subparsers.add_parser("tracks", help="list, draw and generate tracks")
    sub = tracks.add_subparsers(dest="tracks_command", required=True)
    listing = sub.add_parser("list", help="the built-in tracks: name, length, width, direction")
    listing.set_defaults(func=list_tracks)
    show = sub.add_parser("show", help="draw a track from above with its start line and direction")
    show.add_argument("track", help="a built-in name, generated:SEED, or a .track / DeepRacer .npy file")
    show.add_argument("--out", required=True, help="PNG file to write")
    show.add_argument("--reverse", action="store_true", help="show the reverse direction")
    show.set_defaults(func=show_track)
    gen = sub.add_parser("generate", help="write random, valid closed loops as .track files (seeded)",
                         description="Write N random closed loops (straights, hairpins, S-bends, sweepers), "
                                     "each checked drivable: no crossing, no overlapping borders, no corner "
                                     "tighter than the car can take. Track i comes from seed S + i, so "
                                     "DIR/generated-7.track with the default bounds is the track generated:7.")
    gen.add_argument("--seed", type=int, default=0, metavar="S", help="seed of the first track (default 0)")
    gen.add_argument("--count", type=int, default=1, metavar="N", help="how many tracks (default 1)")
    gen.add_argument("--length", default="15-40", metavar="MIN-MAX",
                     help="lap length in metres (default 15-40)")
    gen.add_argument("--width", default="0.76-1.07", metavar="MIN-MAX",
                     help="road width in metres, one per track (default 0.76-1.07)")
    gen.add_argument("--out", required=True, metavar="DIR", help="folder to write DIR/generated-S.track ... into")
    gen.set_defaults(func=generate_tracks)


def list_tracks(args) -> int:
    from racekit.tracks import DEFAULT_TRACK, builtin_track_names, load_track

    print(f"{'name':<16} {'length m':>9} {'width m':>8}  direction")
    for name in builtin_track_names():
        t = load_track(name)
        default = "  (default)" if name == DEFAULT_TRACK else ""
        print(f"{name:<16} {t.length:>9.2f} {t.widths.mean():>8.2f}  {t.direction}{default}")
    return 0


def show_track(args) -> int:
    import cv2

    from racekit.sim.texture import draw_direction_arrow, draw_track
    from racekit.sim.topdown import scaled

    from racekit.tracks import load_track

    track = load_track(args.track, reverse=args.reverse)
    canvas = scaled(draw_track(track), max_side=1200)
    draw_direction_arrow(canvas, track)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(out), cv2.cvtColor(canvas.image, cv2.COLOR_RGB2BGR)):
        raise UserError(f"{out}: could not write the picture (is it a .png path in a writable folder?)")
    print(f"{track.name}: {track.length:.2f} m, {track.direction}, map written to {out}")
    return 0


def bounds_argument(option: str, value: str) -> tuple[float, float]:
    """ "15-40" -> (15.0, 40.0); "20" -> (20.0, 20.0). A bad value is a UserError naming the option."""
    number = r"\s*(\d+(?:\.\d*)?|\.\d+)\s*"
    match = re.fullmatch(f"{number}(?:-{number})?", value)
    if not match:
        raise UserError(f"{option} {value!r}: expected MIN-MAX in metres, e.g. {option} 15-40")
    lo = float(match.group(1))
    return lo, float(match.group(2)) if match.group(2) is not None else lo


def generate_tracks(args) -> int:
    from racekit.tracks import TrackError
    from racekit.tracks.generate import BoundsError, check_bounds, generate

    length = bounds_argument("--length", args.length)
    width = bounds_argument("--width", args.width)
    try:
        check_bounds(length, width)  # before anything is written
    except BoundsError as exc:  # name the option as it was typed
        raise UserError(f"--{exc.option} {getattr(args, exc.option)}: {exc.reason}") from None
    if args.count < 1:
        raise UserError(f"--count {args.count}: give 1 or more")
    if args.seed < 0:
        raise UserError(f"--seed {args.seed}: give 0 or more")
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"{out}: cannot make the folder ({exc.strerror})") from None
    for seed in range(args.seed, args.seed + args.count):
        try:
            track = generate(seed, length, width)
        except TrackError as exc:  # no valid track in MAX_TRIES draws
            raise UserError(str(exc)) from None
        path = out / f"generated-{seed}.track"
        try:
            path.write_text(track.text(), encoding="utf-8")
        except OSError as exc:
            raise UserError(f"{path}: cannot write ({exc.strerror})") from None
        print(f"{path}: {track.name}, {track.track().length:.2f} m, {track.width:.3f} m wide, {track.direction}")
    return 0
