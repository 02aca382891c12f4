"""Generated tracks: random, valid, DeepRacer-sized closed loops from a seed.

`generate(seed)` always gives the same track for the same seed and bounds
(everything random comes from one numpy Generator seeded with it), and
`load_track("generated:7")` is `generate(7)` with the default bounds.

Method
------
1. A control polygon: 5 or more corners (more on longer laps) at sorted,
   jittered angles around a centre, each at a random distance from it.
   Sorting the angles makes the polygon star-shaped, so it never crosses
   itself (stretching and mirroring keep it so); some corners are pulled
   in towards the centre, which makes the road turn the other way there
   (S-bends), one may be pushed out between two pulled-in ones (a spike:
   a hairpin); a random stretch along one axis makes long straights, and a
   random mirror image makes clockwise tracks as well as counter-clockwise.
2. Corners become circular arcs (fillets) tangent to both edges, with a
   radius drawn by how sharp the corner is: tight ones for near-reversals
   (hairpins), anything up to 4 m for gentle bends (sweepers). What is left
   of each edge is a straight. With the radii fixed, the lap length is
   linear in the polygon's scale (each edge grows, each corner's arc and the
   two tangent lengths it cuts off do not), so one scale gives the requested
   length exactly; radii too big for their edges at that scale are shrunk.
3. The loop is sampled every ~0.2 m of arc length (geometry.SPACING), starting in
   the middle of its longest straight, and checked: the centre line does not
   cross itself, no radius is under `min_radius(width)` (both drivable by the
   car and wide enough that the inner border does not fold), neither border
   crosses itself, and parts of the lap far apart along it keep a gap between
   their edges. A draw that fails is dropped and the next one tried, up to
   MAX_TRIES draws.

Why arcs and straights rather than a spline through random points: curvature
is then known exactly (a spline's radius can dip anywhere between its control
points), the straights are really straight, and a corner's radius and angle
are chosen rather than hoped for.

Why round the points to 0.1 mm: a written .track file then reads back to the
very same floats, so `generated:7` and the file `generated-7.track` are the
same track.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from . import geometry
from .geometry import MIN_RADIUS, SPACING
from .track import Track, TrackError

PREFIX = "generated:"
DEFAULT_LENGTH = (15.0, 40.0)   # metres: DeepRacer-sized (its tracks run from about 16 to 60 m)
DEFAULT_WIDTH = (0.76, 1.07)    # metres: 30 to 42 inches, DeepRacer's road widths
LENGTH_LIMITS = (10.0, 200.0)   # under 10 m a lap has no room for corners; 200 m takes 0.2 s
WIDTH_LIMITS = (0.4, 3.0)       # the car is 0.2 m wide; wider than 3 m, corners need a hall
MAX_TRIES = 200                 # draws per track; most tracks need one to three

GAP = 0.3              # metres between the edges of two parts of the road far apart along the lap
ROOM = 7               # a lap is at least this many hairpin widths (2 * min_radius) long, to fit 5 corners
ROUND = 4              # decimals kept in the points (0.1 mm), see above
RADIUS_MARGIN = 0.02   # arcs are drawn this much above the bound, so rounding cannot take one under it
LENGTH_TOL = 0.005     # metres the lap may miss its drawn length by (rounding), kept inside the bounds


class BoundsError(TrackError):
    """Bounds that no generated track can meet. `option` is "length" or "width", `reason` says why."""

    def __init__(self, option: str, bounds, reason: str):
        super().__init__(f"{option} {bounds[0]:g}-{bounds[1]:g} m: {reason}")
        self.option = option
        self.reason = reason


@dataclass(frozen=True)
class Generated:
    """One generated loop: waypoints in driving order, one road width, and where it came from."""

    seed: int
    name: str
    waypoints: np.ndarray
    width: float
    length_bounds: tuple[float, float]
    width_bounds: tuple[float, float]

    @property
    def direction(self) -> str:
        return "ccw" if geometry.signed_area(self.waypoints) > 0 else "cw"

    def track(self, source: str | None = None) -> Track:
        """The Track, built just as load_track builds it from this track's .track file."""
        widths = np.full(len(self.waypoints), self.width)
        left, right = geometry.offset_borders(self.waypoints, widths, True)
        return Track(self.waypoints, left, right, name=self.name, source=source or self.name,
                     closed=True, direction=self.direction)

    def text(self) -> str:
        """The .track file: the waypoints as they are (`smooth: false`), and how to make it again."""
        (lo_l, hi_l), (lo_w, hi_w) = self.length_bounds, self.width_bounds
        lines = [f"# {self.name}: a generated track, {_lap_length(self.waypoints):.2f} m, "
                 f"{self.width:.3f} m wide, {self.direction}. Made by:",
                 f"# racekit tracks generate --seed {self.seed} --count 1 "
                 f"--length {lo_l:g}-{hi_l:g} --width {lo_w:g}-{hi_w:g} --out DIR",
                 f"name: {self.name}",
                 f"width: {self.width!r}",  # repr: reads back as the very same float
                 f"direction: {self.direction}",
                 "smooth: false"]
        lines += [f"{x:.{ROUND}f} {y:.{ROUND}f}" for x, y in self.waypoints]
        return "\n".join(lines) + "\n"


def generate_track(seed: int, length=DEFAULT_LENGTH, width=DEFAULT_WIDTH) -> Track:
    """The Track generated from `seed`, its length and width within the (min, max) bounds."""
    return generate(seed, length, width).track()


def generated_track(name: str) -> Track:
    """load_track's part: "generated:7" is generate(7) with the default bounds."""
    m = re.fullmatch(re.escape(PREFIX) + r"(\d+)", name)
    if not m:
        raise TrackError(f"unknown track {name!r}: a generated track is {PREFIX}SEED, "
                         f"SEED a whole number 0 or more (e.g. {PREFIX}7)")
    return generate(int(m.group(1))).track(source=name)


def generate(seed: int, length=DEFAULT_LENGTH, width=DEFAULT_WIDTH) -> Generated:
    """A valid loop from `seed` (see the module docstring), within the (min, max) bounds in metres."""
    length, width = (float(length[0]), float(length[1])), (float(width[0]), float(width[1]))
    check_bounds(length, width)
    if int(seed) != seed or seed < 0:
        raise TrackError(f"seed must be a whole number 0 or more, got {seed!r}")
    seed = int(seed)
    rng = np.random.default_rng(seed)  # everything random below comes from here
    name = f"{PREFIX}{seed}"
    if (length, width) != (DEFAULT_LENGTH, DEFAULT_WIDTH):
        name += f" (length {length[0]:g}-{length[1]:g} m, width {width[0]:g}-{width[1]:g} m)"
    fault = ""
    for _ in range(MAX_TRIES):
        # The length first, long enough for the narrowest road; then a road that fits it.
        lap = _draw_length(rng, (max(length[0], shortest_lap(width[0])), length[1]))
        w = _draw_width(rng, (width[0], min(width[1], widest_road(lap))))
        wp = _draw_loop(rng, lap, min_radius(w) + RADIUS_MARGIN)
        fault = "the corners did not fit their edges" if wp is None else _fault(wp, w, length)
        if fault is None:
            return Generated(seed, name, wp, w, length, width)
    raise TrackError(f"{name}: no valid track after {MAX_TRIES} tries (the last: {fault}); "
                     "try another seed or wider bounds")


def min_radius(width: float) -> float:
    """The tightest corner allowed on a road this wide.

    At least MIN_RADIUS (drivable), and at least half the width plus half the
    gap: the inner border then stays a curve instead of folding into a cusp,
    and the two legs of a hairpin (2 r apart) keep GAP between their edges.
    """
    return max(MIN_RADIUS, width / 2 + GAP / 2)


def far_along(width: float) -> float:
    """How far apart along the lap two points must be to count as different parts of the road.

    Half a circle of the tightest radius: nearer along the lap, two points can be
    close in the plane just because the road bends (the two legs of a hairpin);
    further along, a road whose radius is never under min_radius keeps them at
    least 2 * min_radius >= width + GAP apart, unless it really comes back on itself.
    """
    return math.pi * min_radius(width)


def shortest_lap(width: float) -> float:
    return ROOM * 2 * min_radius(width)


def widest_road(lap: float) -> float:
    """The widest road with shortest_lap(width) <= lap (a 10 m lap fits 1.13 m)."""
    return lap / ROOM - GAP


def check_bounds(length, width) -> None:
    """Raise BoundsError unless tracks can be generated within these (min, max) bounds."""
    for option, (lo, hi), (floor, ceiling) in (("length", length, LENGTH_LIMITS),
                                               ("width", width, WIDTH_LIMITS)):
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise BoundsError(option, (lo, hi), "MIN and MAX must be numbers")
        if lo > hi:
            raise BoundsError(option, (lo, hi), f"MIN {lo:g} is larger than MAX {hi:g}")
        if lo < floor or hi > ceiling:
            what = "laps" if option == "length" else "roads"
            raise BoundsError(option, (lo, hi), f"generated {what} are {floor:g} to {ceiling:g} m "
                                                f"{'long' if option == 'length' else 'wide'}")
    if shortest_lap(width[0]) > length[1]:
        raise BoundsError("width", width, f"too wide for a lap of at most {length[1]:g} m "
                                          f"(the widest road that fits is {widest_road(length[1]):.2f} m)")


# -- drawing one candidate ----------------------------------------------------------

def _draw_width(rng: np.random.Generator, bounds) -> float:
    """A road width inside the bounds, in whole millimetres where the bounds allow."""
    lo, hi = bounds
    return float(np.clip(round(rng.uniform(lo, hi), 3), lo, hi))


def _draw_length(rng: np.random.Generator, bounds) -> float:
    """A lap length inside the bounds, LENGTH_TOL clear of them where there is room."""
    lo, hi = bounds
    if hi - lo <= 2 * LENGTH_TOL:
        return (lo + hi) / 2
    return float(np.clip(rng.uniform(lo, hi), lo + LENGTH_TOL, hi - LENGTH_TOL))


def _length_ok(lap: float, bounds) -> bool:
    lo, hi = bounds
    slack = LENGTH_TOL if hi - lo <= 2 * LENGTH_TOL else 0.0  # one length asked for: hit it to 5 mm
    return lo - slack <= lap <= hi + slack


def _draw_loop(rng: np.random.Generator, length: float, r_min: float) -> np.ndarray | None:
    """Waypoints of one candidate loop of this length, or None if its corners do not fit."""
    corners = _control_polygon(rng, length / (2 * r_min))
    turns = _turn_angles(corners)
    radii = _corner_radii(rng, turns, r_min)
    fitted = _fit_scale(corners, turns, radii, length, r_min)
    if fitted is None:
        return None
    scale, radii = fitted
    wp = _sample(_pieces(corners * scale, turns, radii), length)
    # The chords are a little shorter than the arcs: scale up to the length asked for
    # (growing a loop only widens its corners and the gaps between its parts).
    wp *= length / _lap_length(wp)
    return np.round(wp, ROUND)


def _control_polygon(rng: np.random.Generator, size: float) -> np.ndarray:
    """A random star-shaped polygon (K, 2) around the origin, about unit size.

    `size` is the lap length in hairpin widths (2 * min_radius): it sets how many
    corners fit, from 5 to 7 on short laps up to one per 3 hairpin widths.
    """
    k = int(rng.integers(max(5, round(size / 6)), max(7, round(size / 3)) + 1))
    # Jitter under half the spacing keeps the angles sorted, so the polygon is simple.
    angles = (np.arange(k) + rng.uniform(-0.35, 0.35, k)) * (2 * math.pi / k)
    dist = rng.uniform(0.7, 1.0, k)
    pulled = rng.random(k) < 0.3  # pulled-in corners turn the road the other way: S-bends
    dist[pulled] *= rng.uniform(0.35, 0.65, int(pulled.sum()))
    if rng.random() < 0.6:  # a spike between two pulled-in corners: a hairpin
        i = int(rng.integers(k))
        dist[i] = rng.uniform(1.4, 2.0)
        dist[[i - 1, (i + 1) % k]] = rng.uniform(0.35, 0.6, 2)
    pts = np.stack([dist * np.cos(angles), dist * np.sin(angles)], axis=1)
    pts[:, 0] *= rng.uniform(1.0, 2.0)  # stretched: long straights, ends that turn sharply
    if rng.random() < 0.5:
        pts[:, 0] *= -1.0  # the mirror image: the same corners in the same order, run clockwise
    turn = rng.uniform(0, 2 * math.pi)
    c, s = math.cos(turn), math.sin(turn)
    return pts @ np.array([[c, s], [-s, c]])


def _turn_angles(corners: np.ndarray) -> np.ndarray:
    """Signed turn at each corner (radians, > 0 = left), from the incoming to the outgoing edge."""
    d_in = corners - np.roll(corners, 1, axis=0)
    d_out = np.roll(corners, -1, axis=0) - corners
    cross = d_in[:, 0] * d_out[:, 1] - d_in[:, 1] * d_out[:, 0]
    dot = np.einsum("ij,ij->i", d_in, d_out)
    return np.arctan2(cross, dot)


def _corner_radii(rng: np.random.Generator, turns: np.ndarray, r_min: float) -> np.ndarray:
    """A radius per corner: near-reversals tight (hairpins), middling turns middling, gentle ones wide."""
    a = np.abs(turns)
    sharp = rng.uniform(1.0, 1.4, len(a)) * r_min
    medium = rng.uniform(r_min, max(2.5, r_min * 1.5), len(a))
    gentle = rng.uniform(1.0, 4.0, len(a))
    r = np.where(a > math.radians(110), sharp, np.where(a > math.radians(45), medium, gentle))
    return np.maximum(r, r_min)


def _fit_scale(corners, turns, radii, length, r_min):
    """(scale, radii) giving the lap `length` with every arc inside its edges, or None.

    For fixed radii the lap is scale * perimeter - sum(r (2 tan(a/2) - a)): each
    arc replaces two tangent lengths r tan(a/2) of the polygon by its own length r a.
    """
    edges = np.linalg.norm(np.roll(corners, -1, axis=0) - corners, axis=1)  # edge i: corner i -> i+1
    half = np.tan(np.abs(turns) / 2)
    radii = radii.copy()
    for _ in range(8):
        scale = (length + np.sum(radii * (2 * half - np.abs(turns)))) / edges.sum()
        cut = radii * half                  # tangent length cut off each edge end
        need = cut + np.roll(cut, -1)       # edge i loses cut[i] and cut[i + 1]
        room = scale * edges
        if np.all(need <= room):
            return scale, radii
        # Shrink the two corners of every overfull edge to fit, with 5 % to spare.
        f = np.where(need > room, 0.95 * room / np.maximum(need, 1e-12), 1.0)
        radii = np.maximum(r_min, radii * np.minimum(f, np.roll(f, 1)))
    return None


def _pieces(corners, turns, radii):
    """The loop as a list of pieces, each (kind, length, data), starting with corner 0's arc."""
    d_in = corners - np.roll(corners, 1, axis=0)
    u_in = d_in / np.linalg.norm(d_in, axis=1, keepdims=True)
    u_out = np.roll(u_in, -1, axis=0)
    cut = radii * np.tan(np.abs(turns) / 2)
    start = corners - cut[:, None] * u_in   # where each arc leaves the incoming edge
    end = corners + cut[:, None] * u_out    # where it joins the outgoing one
    pieces = []
    for i in range(len(corners)):
        side = 1.0 if turns[i] >= 0 else -1.0
        normal = side * np.array([-u_in[i, 1], u_in[i, 0]])  # towards the arc's centre
        centre = start[i] + radii[i] * normal
        a0 = math.atan2(start[i, 1] - centre[1], start[i, 0] - centre[0])  # the arc's first point
        pieces.append(("arc", radii[i] * abs(turns[i]), (centre, radii[i], a0, side)))
        nxt = start[(i + 1) % len(corners)]
        pieces.append(("line", float(np.linalg.norm(nxt - end[i])), (end[i], u_out[i])))
    return pieces


def _sample(pieces, length: float) -> np.ndarray:
    """Points every ~SPACING m along the pieces, from the middle of the longest straight."""
    lengths = np.array([p[1] for p in pieces])
    begins = np.concatenate([[0.0], np.cumsum(lengths)[:-1]])
    total = float(lengths.sum())  # equals `length` up to rounding
    lines = [i for i, p in enumerate(pieces) if p[0] == "line"]
    best = max(lines, key=lambda i: lengths[i])
    n = max(3, int(round(length / SPACING)))
    s = (begins[best] + lengths[best] / 2 + np.arange(n) * (total / n)) % total
    which = np.clip(np.searchsorted(begins, s, side="right") - 1, 0, len(pieces) - 1)
    out = np.empty((n, 2))
    for i, (kind, _, data) in enumerate(pieces):
        mask = which == i
        t = s[mask] - begins[i]
        if kind == "line":
            p0, u = data
            out[mask] = p0 + t[:, None] * u
        else:
            centre, r, a0, side = data
            a = a0 + side * t / r
            out[mask] = centre + r * np.stack([np.cos(a), np.sin(a)], axis=1)
    return out


# -- checking a candidate -------------------------------------------------------------

def _lap_length(wp: np.ndarray) -> float:
    return geometry.polyline_length(wp, True)


def _fault(wp: np.ndarray, width: float, length_bounds) -> str | None:
    """Why these waypoints are no valid track (one phrase), or None when they are."""
    lap = _lap_length(wp)
    if not _length_ok(lap, length_bounds):
        return f"its length {lap:.2f} m is outside the bounds"
    if geometry.find_crossing(wp, True) is not None:
        return "the centre line crosses itself"
    r = geometry.circle_radii(wp).min()
    if r < min_radius(width):
        return f"a corner of radius {r:.2f} m, under {min_radius(width):.2f} m"
    left, right = geometry.offset_borders(wp, np.full(len(wp), width), True)
    if geometry.find_crossing(left, True) is not None or geometry.find_crossing(right, True) is not None:
        return "a border crosses itself"
    if _closest_far_apart(wp, far_along(width)) < width + GAP:
        return "two parts of the road come too close"
    return None


def _closest_far_apart(wp: np.ndarray, far: float) -> float:
    """Least distance between a waypoint and a centre-line segment more than `far` m away along the lap."""
    d = np.roll(wp, -1, axis=0) - wp
    seg = np.linalg.norm(d, axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)[:-1]])
    lap = seg.sum()
    rel = wp[:, None, :] - wp[None, :, :]                      # waypoint i from segment j's start
    t = np.clip(np.einsum("ijk,jk->ij", rel, d) / seg ** 2, 0.0, 1.0)
    dist = np.linalg.norm(rel - t[..., None] * d[None], axis=2)
    along = np.abs(s[:, None] - (s[None, :] + t * seg[None, :]))
    along = np.minimum(along, lap - along)
    return float(np.where(along > far, dist, np.inf).min())
