"""Objects on the track besides the car, for DeepRacer's race types, and the object params.

time-trial: the obstacles a `.track` file lists (World adds those); object-avoidance: boxes, placed anew
each episode; head-to-bot: scripted bot cars driving lane lines. Every object is one of World's boxes
(sim/world.py), a body the car can hit and every renderer draws, made once and moved each episode.

DeepRacer's figures (aws-deepracer-community/deepracer-simapp, bundle/): box 0.4 x 0.3 x 0.25 m, long side
along the lane (models/box_obstacle/model.sdf); placement evenly from one gap after the start to 1 m before
the lap's end, then each, in random order, moved uniformly between its neighbours +- the gap, in a random
lane (markov/agent_ctrl/obstacles_agent_ctrl.py); lanes halfway between the centre line and each border
(markov/track_geom/track_data.py); bots at 0.2 m/s, 2 m apart or more, changing lanes every 3-5 s over 1 m,
all pausing 2 s when one runs into the car from behind, and driving on while the car is held for a penalty
(their place is a function of simulated time: markov/agent_ctrl/bot_cars_agent_ctrl.py), 0.196 x 0.324 m
(markov/track_geom/constants.py); off the track (or driving backwards, or stuck), put back at rest in the
nearer lane where it was, but with a box within 1 m, 1 m behind it in the other lane, as after a crash into
a box; after running into a bot, held where it hit it; after any penalty, not collidable with the bots (the
blinking car) until clear of them, so a car put down on a bot passes through it
(markov/agent_ctrl/rollout_agent_ctrl.py).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from racekit.sim import MAX_OBJECTS, RACE_TYPES
from racekit.sim.camera import in_view
from racekit.sim.render import Box
from racekit.sim.texture import OBSTACLE

BOX_SIZE = (0.4, 0.3, 0.25)  # m: along the lane, across, high (DeepRacer's box_obstacle)
BOT_SIZE = (0.32, 0.20, 0.15)  # m: DeepRacer's car
BOT_RGB = (40, 90, 200)  # blue, apart from the red car and the orange boxes
BOT_SPEED = 0.2  # m/s, DeepRacer's default
BOT_GAP = 2.0  # m between bots at the start (DeepRacer's MIN_DISTANCE_BETWEEN_BOT_CARS)
BOT_PAUSE_S = 2.0  # every bot stops this long when one runs into the car from behind
LANE_CHANGE_EVERY = (3.0, 5.0)  # s, drawn uniformly
LANE_CHANGE_M = 1.0  # of travel along the track
# m between boxes along the track: DeepRacer's MIN_DISTANCE_BETWEEN_OBSTACLES is 2.0, which its simulator reads
# as percent of the lap (0.44 m on a 22 m track: two boxes in opposite lanes could wall the road off)
OBJECT_GAP = 2.0
END_MARGIN = 1.0  # m kept clear before the start point, one lap on
SMOOTH_M = 0.2  # m of centre line that lane lines are smoothed over (DeepRacer's waypoint spacing)
RESET_BEHIND = 1.0  # m: put back this far behind an object within this distance of the car


class ObjectState(NamedTuple):
    """One object as the params and the info see it: position (m), yaw (radians), speed (m/s)."""

    x: float
    y: float
    yaw: float
    speed: float
    is_bot: bool


@dataclass(frozen=True)
class ObjectOptions:
    """The race type and its objects; a bad value is a ValueError naming the argument."""

    race_type: str = "time-trial"
    num_objects: int = 6  # object-avoidance boxes
    object_positions: tuple = ()  # fixed (fraction of the lap from the start line, lane +1 left / -1 right)
    object_min_gap: float = OBJECT_GAP
    num_bots: int = 3
    bot_speed: float = BOT_SPEED
    bot_lane_changes: bool = False

    def __post_init__(self):
        if self.race_type not in RACE_TYPES:
            raise ValueError(f"race_type must be one of {', '.join(RACE_TYPES)}, got {self.race_type!r}")
        for name in ("num_objects", "num_bots"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 1 <= value <= MAX_OBJECTS:
                raise ValueError(f"{name} must be a whole number from 1 to {MAX_OBJECTS}, got {value!r}")
        try:
            positions = tuple((float(f), int(lane)) for f, lane in self.object_positions)
        except (TypeError, ValueError):
            positions = ((-1.0, 0),)  # not pairs of numbers: refused below
        if len(positions) > MAX_OBJECTS or any(not 0.0 <= f <= 1.0 or lane not in (1, -1) for f, lane in positions):
            raise ValueError(f"object_positions must be up to {MAX_OBJECTS} (fraction 0-1, lane 1 or -1) pairs, "
                             f"got {list(self.object_positions)}")
        object.__setattr__(self, "object_positions", positions)
        if not self.object_min_gap > 0:
            raise ValueError(f"object_min_gap must be > 0 m, got {self.object_min_gap}")
        if not 0 < self.bot_speed <= 4.0:
            raise ValueError(f"bot_speed must be in (0, 4] m/s, got {self.bot_speed}")

    @property
    def count(self) -> int:
        """How many boxes or bots this race type puts on the track."""
        if self.race_type == "time-trial":
            return 0
        per_type = self.num_objects if self.race_type == "object-avoidance" else self.num_bots
        return len(self.object_positions) or per_type

    def check_fits(self, track) -> None:
        """Randomly placed objects must fit the lap with their gap: `count * gap + 1 m` at most."""
        if self.object_positions or self.race_type == "time-trial":
            return
        gap, name = ((self.object_min_gap, "object_min_gap") if self.race_type == "object-avoidance"
                     else (BOT_GAP, "num_bots"))
        if self.count * gap + END_MARGIN > track.length:
            raise ValueError(f"{name}: {self.count} objects {gap:g} m apart do not fit a {track.length:.1f} m lap")


def spread(rng, count: int, span: float, gap: float) -> np.ndarray:
    """DeepRacer's placement along `span` metres: evenly from `gap` to `span - 1 m`, then each (in random
    order) uniformly between its neighbours +- gap, so neighbours stay at least `gap` apart."""
    s = np.linspace(gap, span - END_MARGIN, count)
    for i in rng.permutation(count):
        lo = gap if i == 0 else s[i - 1] + gap
        hi = span - END_MARGIN if i == count - 1 else s[i + 1] - gap
        if lo < hi:
            s[i] = rng.uniform(lo, hi)
    return s


def lane_pose(track, s: float, lateral: float) -> tuple[np.ndarray, float]:
    """The point `lateral` metres left of the centre line at s, and the centre line's direction there.

    The centre line is a polyline (DeepRacer's waypoints kink by up to 17 degrees), so both are taken from
    it averaged over SMOOTH_M around s (a box filter, whose derivative is the chord over the window): lane
    lines built on it have no kinks, and a bot driving one heads where it goes.
    """
    pts = track.point_at(s + SMOOTH_M * (np.linspace(0.0, 1.0, 9) - 0.5))
    centre = (pts[0] / 2 + pts[1:-1].sum(axis=0) + pts[-1] / 2) / 8  # the trapezoid rule
    yaw = math.atan2(pts[-1][1] - pts[0][1], pts[-1][0] - pts[0][0])
    return centre + lateral * np.array([-math.sin(yaw), math.cos(yaw)]), yaw


def lane_offset(track, s: float, lane: float) -> float:
    """Lateral offset of a lane line: lane +1 is halfway to the left border, -1 halfway to the right."""
    return lane * float(track.width_at(s)) / 4


def nearer_lane(track, s: float, xy) -> float:
    """Lateral offset at s of the lane line nearer to the point xy (where DeepRacer puts a car back)."""
    _, offset = track.project(np.asarray(xy, dtype=float), near_s=s)
    return lane_offset(track, s, 1.0 if float(offset) > 0 else -1.0)


def pose_at(track, s: float, lateral: float) -> tuple[float, float, float]:
    """(x, y, yaw) `lateral` metres left of the centre line at s, facing along it: a car's pose, from the centre
    line's own point and heading (lane_pose smooths both, for the boxes and bots)."""
    x, y = track.point_at(s)
    yaw = float(track.heading_at(s))
    return float(x - lateral * math.sin(yaw)), float(y + lateral * math.cos(yaw)), yaw


def along(track, a: float, b: float) -> float:
    """b - a along the track, wrapped into (-length/2, length/2] on loops."""
    d = b - a
    return d if not track.closed else (d + track.length / 2) % track.length - track.length / 2


@dataclass
class Bot:
    """A scripted car: distance along the centre line (unwrapped), lane, and a lane change under way."""

    body: int  # World box index
    s: float = 0.0
    lane: int = 1
    change: tuple[float, float] | None = None  # (s where it starts, s where it ends) towards the other lane
    change_at: float = math.inf  # clock time of the next lane change
    paused_until: float = 0.0
    speed: float = 0.0  # this step's, m/s

    def lateral(self, track, s: float) -> float:
        """Offset from the centre line at s: on its lane line, or eased (smoothstep) across to the other."""
        side = float(self.lane)
        if self.change is not None:
            t = min(1.0, max(0.0, (s - self.change[0]) / (self.change[1] - self.change[0])))
            side *= 1.0 - 2.0 * t * t * (3.0 - 2.0 * t)
        return lane_offset(track, s, side)


class Objects:
    """The track's obstacles and the race type's boxes or bots, in one World."""

    def __init__(self, world, track, options: ObjectOptions = ObjectOptions()):
        self.world, self.track, self.options = world, track, options
        self.static = list(range(len(world.standing)))  # World box indices: the .track file's obstacles ...
        self.boxes: list[int] = []  # ... and object avoidance's boxes, which are static too
        self.bots: list[Bot] = []
        self.clock = 0.0
        self.ran_into_bot = False
        self.passing_through = False  # the car, after a penalty, not collidable with the bots until clear of them
        self.rng = np.random.default_rng(0)
        length, width, height = BOX_SIZE if options.race_type == "object-avoidance" else BOT_SIZE
        rgb = OBSTACLE if options.race_type == "object-avoidance" else BOT_RGB
        for _ in range(options.count):
            index = world.add_box(Box((0.0, 0.0, height / 2), (length / 2, width / 2, height / 2), 0.0, rgb))
            if options.race_type == "head-to-bot":
                self.bots.append(Bot(index))
            else:
                self.boxes.append(index)
                self.static.append(index)
        self.reset(self.rng, 0.0)

    # -- episodes ----------------------------------------------------------------------------------------
    def reset(self, rng, start_s: float) -> None:
        """Place the boxes or bots for an episode starting at `start_s` (the car's centre, along the track):
        at the fixed positions, or spread over the lap ahead of the car, each in a random lane."""
        self.rng, self.clock = rng, 0.0
        self._pass_through(False)
        places = self._places(rng, start_s)
        for index, (s, lane) in zip(self.boxes, places):
            (x, y), yaw = lane_pose(self.track, s, lane_offset(self.track, s, lane))
            self.world.move_box(index, float(x), float(y), yaw)
        for bot, (s, lane) in zip(self.bots, places):
            bot.s, bot.lane, bot.change, bot.paused_until, bot.speed = s, lane, None, 0.0, 0.0
            bot.change_at = rng.uniform(*LANE_CHANGE_EVERY) if self.options.bot_lane_changes else math.inf
            self._move_bot(bot, 0.0)

    def _places(self, rng, start_s: float) -> list[tuple[float, int]]:
        """(s, lane) of each box or bot: the fixed positions, or spread ahead of `start_s`."""
        options = self.options
        if options.count == 0 or options.object_positions:
            return [(f * self.track.length, lane) for f, lane in options.object_positions]
        span = self.track.length if self.track.closed else self.track.length - start_s
        gap = options.object_min_gap if options.race_type == "object-avoidance" else BOT_GAP
        offsets = spread(rng, options.count, span, gap)
        lanes = rng.choice([1, -1], size=options.count)
        return [(start_s + float(d), int(lane)) for d, lane in zip(offsets, lanes)]

    # -- every step --------------------------------------------------------------------------------------
    def step(self, dt: float) -> None:
        """Drive the bots for `dt` simulated seconds (one control period), less any pause."""
        for bot in self.bots:
            driving = max(0.0, self.clock + dt - max(self.clock, bot.paused_until))
            if bot.change is not None and bot.s >= bot.change[1]:
                bot.lane, bot.change = -bot.lane, None
                bot.change_at = self.clock + self.rng.uniform(*LANE_CHANGE_EVERY)
            elif bot.change is None and self.clock >= bot.change_at:
                bot.change = (bot.s, bot.s + LANE_CHANGE_M)
            self._move_bot(bot, driving)
            bot.speed = self.options.bot_speed if driving > 0 else 0.0
        self.clock += dt

    def _move_bot(self, bot: Bot, seconds: float) -> None:
        """Advance `bot` by `seconds` at its speed, measured along its own path (a lane line is longer or
        shorter than the centre line in corners), and move its body there, facing where it goes."""
        if seconds > 0:
            step = self.options.bot_speed * seconds
            moved = float(np.linalg.norm(self._bot_point(bot, bot.s + step) - self._bot_point(bot, bot.s)))
            bot.s += step * step / max(moved, 1e-9)
        x, y = self._bot_point(bot, bot.s)
        d = self._bot_point(bot, bot.s + 0.01) - self._bot_point(bot, bot.s - 0.01)
        self.world.move_box(bot.body, float(x), float(y), math.atan2(d[1], d[0]))

    def _bot_point(self, bot: Bot, s: float) -> np.ndarray:
        return lane_pose(self.track, s, bot.lateral(self.track, s))[0]

    def crashed(self, car_s: float) -> bool:
        """After the physics of a step: did the car crash? `car_s` is its centre along the track.

        Touching a box or obstacle is a crash. A bot is the car's crash only when the bot is ahead (the car ran
        into it; the bot drives on). A bot that runs into the car from behind is not, and every bot stops for
        BOT_PAUSE_S, then drives on, as in DeepRacer.
        """
        car, bodies = self.world.car, self.world.bodies
        hit_static = any(car.touching([bodies[i]]) for i in self.static)
        self.ran_into_bot = False  # the crash was into a bot alone (the race rules hold the car where it is)
        for bot in self.bots:
            if car.touching([bodies[bot.body]]):
                ahead = along(self.track, car_s, bot.s) > 0
                self.ran_into_bot = self.ran_into_bot or (ahead and not hit_static)
                if not ahead and all(self.clock >= b.paused_until for b in self.bots):
                    for paused in self.bots:
                        paused.paused_until = self.clock + BOT_PAUSE_S
        return hit_static or self.ran_into_bot

    def pass_through_bots(self) -> None:
        """After a penalty, the car is not collidable with the bots (DeepRacer's blinking car) until it is clear
        of them: put back in its lane, it may stand on one, and the bot drives on through it."""
        self._pass_through(True)

    def collide_when_clear(self) -> None:
        """Every step: the bots collidable again once none overlaps the car."""
        if self.passing_through and not self.world.car.overlapping([self.world.bodies[b.body] for b in self.bots]):
            self._pass_through(False)

    def _pass_through(self, on: bool) -> None:
        if self.bots and on != self.passing_through:
            for bot in self.bots:
                self.world.car.collide_with(self.world.bodies[bot.body], not on)
        self.passing_through = on and bool(self.bots)

    def drive_on(self, seconds: float, dt: float) -> None:
        """The bots drive on for `seconds` (a penalty the car stands out), one control period `dt` at a time."""
        for _ in range(int(round(seconds / dt))):
            self.step(dt)

    # -- what the env reads ------------------------------------------------------------------------------
    def states(self) -> list[ObjectState]:
        """Every object, the track's obstacles first (World's box order)."""
        boxes = self.world.standing
        bots = {bot.body: bot for bot in self.bots}
        return [ObjectState(float(boxes[i].centre[0]), float(boxes[i].centre[1]), float(boxes[i].yaw),
                            bots[i].speed if i in bots else 0.0, i in bots) for i in range(len(boxes))]

    def poses(self) -> list[tuple[float, float, float]]:
        """(x, y, heading in degrees) of every object, for replays and maps."""
        return [(o.x, o.y, _degrees(o.yaw)) for o in self.states()]

    def in_view(self, car, spec) -> list[bool]:
        """Per object: is its centre or a corner of its footprint (at half its height) in the front camera?"""
        boxes = self.world.standing
        if not boxes:
            return []
        points = []
        for box in boxes:
            c, s = math.cos(box.yaw), math.sin(box.yaw)
            hx, hy, hz = box.half
            for u, v in ((0, 0), (hx, hy), (hx, -hy), (-hx, hy), (-hx, -hy)):
                points.append((box.centre[0] + u * c - v * s, box.centre[1] + u * s + v * c, hz))
        return in_view(car, spec, points).reshape(len(boxes), 5).any(axis=1).tolist()

    @property
    def placed(self) -> list[int]:
        """World box indices of the race type's boxes and bots (not the track's obstacles)."""
        return self.boxes + [bot.body for bot in self.bots]

    def as_if_hit(self, rng) -> tuple[float, float]:
        """Where the race rules would restart a car that just hit one of the boxes or bots (drawn from `rng`),
        as (s, lateral offset): 1 m behind a box in the other lane (clear_spot); 1 m behind a bot in its lane
        (held where it hit the bot, the car sees it drive on through the penalty)."""
        index = self.placed[int(rng.integers(len(self.placed)))]
        for bot in self.bots:
            if bot.body == index:
                s = bot.s - RESET_BEHIND
                return s, bot.lateral(self.track, s)
        s, _ = self.track.project(np.array([self.world.standing[index].centre[:2]]))
        return self.clear_spot(float(np.ravel(s)[0]))

    def clear_spot(self, s: float, lateral: float = 0.0, bots: bool = True) -> tuple[float, float]:
        """Where to put the car down near `s` (its centre along the track) clear of the objects (with `bots`
        False, of the static ones only), as (s, lateral offset): `lateral` m left of the centre line at s, or,
        with an object within 1 m along the track, 1 m behind that object in the other lane (DeepRacer's
        put-back)."""
        states = [o for o in self.states() if bots or not o.is_bot]
        if not states:
            return s, lateral
        obj_s, obj_offset = self.track.project(np.array([(o.x, o.y) for o in states]))
        for _ in range(len(states)):
            gaps = [along(self.track, s, float(o)) for o in obj_s]
            near = int(np.argmin(np.abs(gaps)))
            if abs(gaps[near]) >= RESET_BEHIND:
                break
            s = s + gaps[near] - RESET_BEHIND
            lateral = lane_offset(self.track, s, -1.0 if obj_offset[near] > 0 else 1.0)
        return s, lateral


def object_params(track, car_s: float, objects: list[ObjectState], in_camera: list[bool]) -> dict:
    """DeepRacer's object keys for a car whose reference point is at `car_s` along the track; with no
    objects, DeepRacer's empty defaults. Boxes have speed and heading 0, as in DeepRacer."""
    if not objects:
        return {"closest_objects": [0, 0], "objects_location": [], "objects_left_of_center": [],
                "object_in_camera": False, "objects_speed": [], "objects_heading": [], "objects_distance": [],
                "objects_distance_from_center": []}
    xy = np.array([(o.x, o.y) for o in objects])
    obj_s, obj_offset = track.project(xy)
    return {
        "closest_objects": closest_objects(track, car_s, obj_s),
        "objects_location": [tuple(map(float, p)) for p in xy],
        "objects_left_of_center": [bool(o > 0) for o in obj_offset],
        "object_in_camera": bool(any(in_camera)),
        "objects_speed": [float(o.speed) for o in objects],
        "objects_heading": [_degrees(o.yaw) if o.is_bot else 0.0 for o in objects],
        "objects_distance": [float(v) for v in obj_s],  # along the centre line from the start line
        "objects_distance_from_center": [float(abs(o)) for o in obj_offset],
    }


def closest_objects(track, car_s: float, obj_s: np.ndarray) -> list[int]:
    """DeepRacer's [index of the closest object behind the car, index of the closest ahead], along the track:
    as its simulator finds them in the objects sorted by distance, wrapping around the list (so, on a loop,
    the last object before the start line is behind a car just past the line)."""
    ahead = obj_s - car_s
    ahead = np.where(ahead > 0, ahead, ahead + 2 * track.length)  # those behind come after all those ahead
    return [int(np.argmax(ahead)), int(np.argmin(ahead))]


def _degrees(yaw: float) -> float:
    deg = math.degrees(math.atan2(math.sin(yaw), math.cos(yaw)))
    return 180.0 if deg <= -180.0 else deg
