"""`racekit tracks list` and `racekit tracks show TRACK --out map.png`."""
from __future__ import annotations

from pathlib import Path

from racekit.tracking import track_argument


def register(subparsers) -> None:
    tracks = subparsers.add_parser("tracks", help="list and draw tracks")
    sub = tracks.add_subparsers(dest="tracks_command", required=True)
    listing = sub.add_parser("list", help="the built-in tracks: name, length, width, direction")
    listing.set_defaults(func=list_tracks)
    show = sub.add_parser("show", help="draw a track from above with its start line and direction")
    show.add_argument("track", help="a built-in name or a .track / DeepRacer .npy file")
    show.add_argument("--out", required=True, help="PNG file to write")
    show.add_argument("--reverse", action="store_true", help="show the reverse direction")
    show.set_defaults(func=show_track)


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

    track = track_argument(args.track, reverse=args.reverse)
    canvas = scaled(draw_track(track), max_side=1200)
    draw_direction_arrow(canvas, track)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(out), cv2.cvtColor(canvas.image, cv2.COLOR_RGB2BGR)):
        from racekit.cli import UserError
        raise UserError(f"{out}: could not write the picture (is it a .png path in a writable folder?)")
    print(f"{track.name}: {track.length:.2f} m, {track.direction}, map written to {out}")
    return 0
