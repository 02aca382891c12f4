"""`racekit analyze RUN [--out report.html]`: one self-contained HTML report on a run, or on a model file.

A run folder (even one still training) gives every part it has the files for: reward per waypoint, the action
distribution, progress per iteration, the best laps' routes, where episodes end, and saliency maps. A model file
(`MODEL.onnx --track TRACK`) is raced for a few laps first and gives the parts that need no training log.
The work is in racekit/analyze/.
"""
from __future__ import annotations

from pathlib import Path

from racekit.cli import UserError


def register(subparsers) -> None:
    an = subparsers.add_parser("analyze", help="an HTML report on a run or a model: rewards, actions, laps, saliency")
    an.add_argument("source", metavar="RUN_OR_MODEL", help="a run folder (even one still training), or a model "
                                                           ".onnx (or checkpoint .pt) to drive and analyse")
    an.add_argument("--out", default=None,
                    help="the report's file (default: RUN/report.html, or MODEL-report.html beside the model)")
    an.add_argument("--track", default=None,
                    help="a model file: the track to drive (default: the one it was trained on); a run: the track "
                         "to draw its maps on (default: the run's)")
    an.add_argument("--laps", type=int, default=2, help="a model file: laps to drive (default 2)")
    an.add_argument("--points", type=int, default=6, help="places of the lap with a saliency frame (default 6)")
    an.add_argument("--sections", type=int, default=6, help="sections of the lap for the action view (default 6)")
    an.add_argument("--checkpoint", choices=("best", "last"),
                    help="a run: the checkpoint whose saliency maps are shown (default: best, else last)")
    an.add_argument("--quiet", action="store_true", help="print only the report's path, not each part")
    an.set_defaults(func=run_analyze)


def run_analyze(args) -> int:
    from racekit.analyze import AnalyzeError
    from racekit.analyze.report import build_report

    for flag, value, low, high in (("--laps", args.laps, 1, 20), ("--points", args.points, 1, 16),
                                   ("--sections", args.sections, 2, 12)):
        if not low <= value <= high:
            raise UserError(f"{flag} must be from {low} to {high}, got {value}")
    try:
        out = build_report(Path(args.source), Path(args.out) if args.out else None, track=args.track,
                           laps=args.laps, points=args.points, sections=args.sections,
                           progress=None if args.quiet else lambda line: print(f"analyze: {line}", flush=True),
                           checkpoint=args.checkpoint)
    except AnalyzeError as exc:
        raise UserError(str(exc)) from None
    size = out.stat().st_size
    print(f"wrote {out} ({size / 1e6:.1f} MB)" if size >= 1e5 else f"wrote {out} ({size / 1e3:.0f} kB)")
    return 0
