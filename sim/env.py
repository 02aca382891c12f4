"""The time-trial environment: a 1/18th-scale car on a track, seen through its front camera."""
from __future__ import annotations

import math
import numbers
from collections import deque

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from racekit.sim.camera import MOUNTS, CameraSpec, chase_camera, mounted
from racekit.sim.car import CarSpec
from racekit.sim.lap import LapProgress
from racekit.sim.looks import LOOKS
from racekit.sim.objects import BOT_SPEED, OBJECT_GAP, ObjectOptions, Objects, nearer_lane, pose_at
from racekit.sim.params import StepState, heading_degrees, reward_params
from racekit.sim.randomization import as_randomization
from racekit.sim.randomizer import Randomizer
from racekit.sim.lidar import Lidar
from racekit.sim.reward import as_reward_function
from racekit.sim.sensors import (LIDAR_NOISE_M, LidarConfig, SensorError, check_sensors, lidar_observation, lidar_of,
                                 lidar_space)
from racekit.sim.world import SUBSTEPS, World
from racekit.tracks import DEFAULT_TRACK, Track, load_track

PROGRESS_FALLING_STEPS = 15  # DeepRacer ends an episode driven backwards this long
STUCK_STEPS = 15
STUCK_DISTANCE = 0.0003  # m per step: DeepRacer's "moving less than 0.3 mm"


class TimeTrialEnv(gym.Env):
    """Drive a lap of a track as fast as possible, from camera pixels, scored by a DeepRacer reward function.

    PyBullet simulates the car (DeepRacer's geometry: 0.164 m wheelbase, front steering up to 30 degrees,
    four driven wheels on real contacts) on the track's textured ground. Control runs at `control_hz`
    (15 Hz, DeepRacer's camera rate); each control step advances `substeps` physics steps.

    ## Race types
    DeepRacer's three, by `race_type` (sim/objects.py; ids racekit/ObjectAvoidance-v0, racekit/HeadToBot-v0):
    "time-trial" (the track alone, with any obstacles its `.track` file lists); "object-avoidance":
    `num_objects` boxes of DeepRacer's size (0.4 x 0.3 x 0.25 m), placed anew each episode from
    `self.np_random`, spread over the lap ahead of the start at least `object_min_gap` m apart, each on a
    random lane line (halfway between the centre line and a border), or at fixed `object_positions`
    [(fraction of the lap from the start line, lane +1 left / -1 right), ...]; "head-to-bot": `num_bots`
    scripted cars of the car's size driving lane lines at `bot_speed` (DeepRacer's 0.2 m/s), spread ahead
    of the start (or at `object_positions`), changing lanes every 3-5 s over 1 m with `bot_lane_changes`;
    they move once per control step, in simulated time, and a bot the car touches stops for 2 s. Every
    object is a body the car can hit and every renderer draws.

    ## Action Space
    Continuous (default): `Box([steer_min, speed_min], [steer_max, speed_max])`, steering in degrees
    (positive = left) and speed in m/s; defaults [-30, 30] degrees and [0.5, 4.0] m/s.
    Discrete: pass `actions=[(steering_deg, speed), ...]` (DeepRacer's action list) for `Discrete(len(actions))`.

    ## Observation Space
    `Box(0, 255, (height, width, channels * frame_stack), uint8)`: the front camera (0.14 m ahead of the
    car's centre, 0.14 m up, pitched down 15 degrees, 120 degree horizontal field of view by default; see
    `fov_deg`, `camera_mount` and `look`), grayscale (1 channel) or RGB (3), the last `frame_stack` frames
    along the channel axis, oldest first. With `sensors=("stereo-cameras",)`, DeepRacer Evo's stereo pair: two grey
    cameras of that mount 0.06 m apart, each frame the left picture then the right one (2 channels a frame).
    With a LIDAR among the `sensors`, a `Dict` keyed by sensor name: the camera's array as above and the LIDAR's
    (sim/sensors.py: "lidar" 64 ranges in m clipped to [0.15, 1], "sector-lidar" 8 sectors that are 1 when
    something stands within 0.5 m, "discretized-sector-lidar" one-hot distance bins per sector, from
    `lidar_config`). The LIDAR (sim/lidar.py) scans once a control step and sees what stands on the track
    (boxes, bots, another car), not the track itself.

    ## Rewards
    `reward_function(params)` with DeepRacer's params (see sim/params.py); the default is DeepRacer's
    "follow the centre line" example. The terminal step is scored too. A reward file that fails raises
    `sim.reward.RewardError` naming the file and line.

    ## Starting State
    The car at rest on the centre line, facing the driving direction. The start point advances by
    `start_advance` of the lap each episode (DeepRacer moves it 5%); `reset(seed=...)` restarts that
    schedule, and `options={"start_fraction": f}` places the start explicitly. With `start_noise`, the
    pose is perturbed by up to 5 cm sideways and 3 degrees of heading, drawn from `self.np_random`.
    With boxes or bots and `putback_starts` p, an episode starts with probability p (drawn from
    `self.np_random`) where the race rules restart a car after a crash: at rest 1 m behind one of them, in
    the other lane for a box, in its lane for a bot. Training starts there too, so that a model does not meet
    that pose first in a race (where a model that hits the object again from there hits it every time).

    ## Episode End
    Terminated: `laps` laps complete (progress reaches 100), all four wheels off the track, crashed into
    an object (touching a box; a bot only when the bot is ahead: one running into the car from behind is
    not the car's crash, as in DeepRacer), progress falling for 15 steps in a row, or stuck (moving < 0.3 mm
    per step for 15 steps).
    Truncated: `max_steps` reached. `info["termination"]` names the reason.
    Race rules (`race=True`, DeepRacer's evaluation): off the track, crashed, driving backwards or stuck
    do not end the episode. A penalty (`offtrack_penalty`, or `crash_penalty` for a crash) of simulated time
    counts in the lap time, the car standing while the bots drive on; then a car that ran into a bot goes on
    from where it hit it, and any other is put back at rest in the nearer lane where it was (with a box
    within 1 m along the track, 1 m behind that box in the other lane); after a penalty the car passes
    through the bots until it is clear of them. So does DeepRacer's simulator
    (markov/agent_ctrl/rollout_agent_ctrl.py, its blinking car). More than `max_resets` resets ends the
    episode as "dnf".

    ## Info
    `params` (the reward params of the step), `progress`, `lap_time` (the first lap's simulated seconds,
    interpolated between control steps; None until complete), `lap_times` (every completed lap),
    `sim_time`, `offtracks`, `crashes`, `resets`, `termination`, and `trace`: the step's compact record for
    DeepRacer's sim-trace (agent/simtrace.py): (x, y, heading_deg, steering_deg, speed, all_wheels_on_track,
    prev_waypoint, next_waypoint, sim_time, event), event being what happened before the race rules put the car
    back (None, or an `info["termination"]` value); after `reset` it is the start pose (steering and speed 0).
    `objects`: (x, y, heading_deg) of every object (the track's obstacles, then the boxes or bots), for
    replays and maps.

    ## Arguments
    track: a built-in track name, a path to a .track or DeepRacer .npy file, or a `tracks.Track`.
    reward_function: a path to a reward file, a callable, or None for the default.
    camera_width, camera_height, grayscale, frame_stack: the observation (default 80x60 grayscale, 1 frame).
    fov_deg: the front camera's horizontal field of view in degrees, 10 to 170 (default 120, racekit's;
        DeepRacer's simulator camera has 1.13 rad, 64.74 degrees: sim.camera.DEEPRACER_FOV_DEG).
    camera_mount: where the front camera sits on the car: "racekit" (default: `car_spec`'s camera, 0.14 m
        ahead of the car's centre, 0.14 m up, 15 degrees down) or "deepracer" (DeepRacer's simulator car:
        0.143 m ahead, 0.133 m up, 13.6 degrees down; sim/camera.py says where the numbers come from).
    look: how the world looks: "racekit" (default: the track on grass under a white sky) or "deepracer"
        (DeepRacer's simulator: navy asphalt, wide white borders, orange dashes, a mint floor, dark teal walls;
        sim/looks.py). A model trained in DeepRacer's simulator sees what it was trained on with
        `fov_deg=64.74, camera_mount="deepracer", look="deepracer"`. Randomisation works on top: its camera
        jitter adds to the chosen mount and field of view, and its look fields replace the ground's picture.
    steering_range, speed_range: bounds of the continuous action (degrees, m/s).
    actions: a discrete action list of (steering_deg, speed) pairs instead of the continuous action.
    reverse: drive the track in the other direction (`is_reversed`).
    control_hz, substeps: control rate and physics steps per control step (default 6, see sim/world.py).
    start_fraction, start_advance, start_noise, putback_starts: the starting point (see Starting State).
    max_steps: step cap; default twice the laps at the minimum speed.
    laps, race, offtrack_penalty, crash_penalty, max_resets: race rules (see Episode End).
    info_params: put `params` in `info` (training turns this off: less to copy between processes).
    render_mode: None or "rgb_array" (a chase view, or top-down with render_view="topdown").
    renderer: what draws the front camera: "fast" (default: a perspective warp of the track texture, see
        sim/render/fast.py), "tiny" (PyBullet's TinyRenderer, the reference) or "egl" (PyBullet's EGL plugin,
        on a GPU). The chase and top-down views are always TinyRenderer's.
    race_type, num_objects (1-10, default 6), object_positions, object_min_gap (m, default 2), num_bots
        (1-10, default 3), bot_speed (m/s), bot_lane_changes: the race type and its objects (see Race types).
    sensors: the car's sensors, DeepRacer's rule: exactly one camera ("front-camera", default, or
        "stereo-cameras", grey only) and at most one LIDAR ("lidar", "sector-lidar", "discretized-sector-lidar");
        DeepRacer's names (FRONT_FACING_CAMERA, ...) work too. `lidar_config`: a dict or sim.sensors.LidarConfig
        (num_sectors, num_values_per_sector, clipping_dist) for the discretised sector LIDAR.
    randomize: domain randomisation (sim/randomization.py): None (off: nothing changes), a preset name ("none",
        "default", "strong"), a settings file, or a `Randomization`. Drawn from `self.np_random` at each reset
        (pixel noise per step), so a seed repeats it; what the episode drew is `self.drawn` and the reset's
        `info["randomization"]`. The car gets the command late, trimmed and scaled as drawn; the params and the
        trace keep the action the policy chose.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 15}

    def __init__(self, track: str | Track = DEFAULT_TRACK, reward_function=None, camera_width: int = 80,
                 camera_height: int = 60, grayscale: bool = True, frame_stack: int = 1,
                 steering_range=(-30.0, 30.0), speed_range=(0.5, 4.0), actions=None, reverse: bool = False,
                 control_hz: float = 15.0, substeps: int = SUBSTEPS, start_fraction: float = 0.0,
                 start_advance: float = 0.05, start_noise: bool = False, putback_starts: float = 0.0,
                 max_steps: int | None = None,
                 render_mode: str | None = None, render_view: str = "chase", car_spec: CarSpec = CarSpec(),
                 laps: int = 1, race: bool = False, offtrack_penalty: float = 2.0, crash_penalty: float = 5.0,
                 max_resets: int | None = None, info_params: bool = True, renderer: str = "fast",
                 race_type: str = "time-trial", num_objects: int = 6, object_positions=None,
                 object_min_gap: float = OBJECT_GAP, num_bots: int = 3, bot_speed: float = BOT_SPEED,
                 bot_lane_changes: bool = False, randomize=None, fov_deg: float = 120.0,
                 camera_mount: str = "racekit", look: str = "racekit", sensors=("front-camera",), lidar_config=None):
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        if render_view not in ("chase", "topdown"):
            raise ValueError(f"render_view must be 'chase' or 'topdown', got {render_view!r}")
        if frame_stack < 1:
            raise ValueError(f"frame_stack must be >= 1, got {frame_stack}")
        if laps < 1:
            raise ValueError(f"laps must be >= 1, got {laps}")
        if not 0.0 <= putback_starts <= 1.0:
            raise ValueError(f"putback_starts must be a probability from 0 to 1, got {putback_starts!r}")
        if (isinstance(fov_deg, bool) or not isinstance(fov_deg, numbers.Real) or not math.isfinite(fov_deg)
                or not 10.0 <= fov_deg < 170.0):
            raise ValueError(f"fov_deg must be a horizontal field of view from 10 to 170 degrees, got {fov_deg!r}")
        if camera_mount not in MOUNTS:
            raise ValueError(f"camera_mount must be one of {', '.join(MOUNTS)}, got {camera_mount!r}")
        if look not in LOOKS:
            raise ValueError(f"look must be one of {', '.join(LOOKS)}, got {look!r}")
        self.sensors = check_sensors(sensors)
        self.lidar_sensor = lidar_of(self.sensors)
        self.lidar_config = lidar_config if isinstance(lidar_config, LidarConfig) else LidarConfig.from_dict(lidar_config)
        self.stereo = self.sensors[0] == "stereo-cameras"
        if self.stereo and not grayscale:
            raise SensorError("stereo-cameras are grey, one channel per camera (DeepRacer's): leave grayscale on")
        base = track if isinstance(track, Track) else load_track(track)
        self.track = base.reverse() if reverse else base
        self.is_reversed = reverse
        self.reward_function = as_reward_function(reward_function)
        self.camera = CameraSpec(camera_width, camera_height, 1 if grayscale else 3, float(fov_deg))
        self.frame_stack = frame_stack
        self.camera_mount, self.look = camera_mount, look
        car_spec = mounted(car_spec, camera_mount)
        self.car_spec = car_spec
        self.render_mode, self.render_view = render_mode, render_view
        self.start_fraction, self.start_advance, self.start_noise = start_fraction, start_advance, start_noise
        self.putback_starts = putback_starts
        self.laps, self.race, self.max_resets, self.info_params = laps, race, max_resets, info_params
        self.penalties = {"off_track": offtrack_penalty, "reversed": offtrack_penalty, "stuck": offtrack_penalty,
                          "crashed": crash_penalty}

        if actions is not None:
            self.actions = np.asarray(actions, dtype=np.float32).reshape(-1, 2)
            if len(self.actions) == 0:
                raise ValueError("actions must list at least one (steering_deg, speed) pair")
            self.action_space = spaces.Discrete(len(self.actions))
            speeds = self.actions[:, 1]
        else:
            self.actions = None
            low = np.array([steering_range[0], speed_range[0]], np.float32)
            high = np.array([steering_range[1], speed_range[1]], np.float32)
            if np.any(low >= high):
                raise ValueError(f"action ranges must have low < high, got steering {steering_range}, speed {speed_range}")
            self.action_space = spaces.Box(low, high, dtype=np.float32)
            speeds = np.array(speed_range)
        steerings = self.actions[:, 0] if self.actions is not None else np.array(steering_range)
        if np.max(np.abs(steerings)) > car_spec.max_steering_deg:
            raise ValueError(f"steering beyond the car's +/-{car_spec.max_steering_deg} degrees: {steerings.tolist()}")
        per_frame = 2 if self.stereo else self.camera.channels  # a stereo frame is the left and the right picture
        shape = (self.camera.height, self.camera.width, per_frame * frame_stack)
        camera_space = spaces.Box(0, 255, shape, np.uint8)
        self.observation_space = camera_space if self.lidar_sensor is None else spaces.Dict(
            {self.sensors[0]: camera_space, self.lidar_sensor: lidar_space(self.lidar_sensor, self.lidar_config)})
        min_speed = max(0.1, float(np.min(np.abs(speeds))))
        self.max_steps = max_steps or int(2 * laps * self.track.length / min_speed * control_hz)

        self.race_type = race_type
        self.object_options = ObjectOptions(race_type, num_objects, tuple(object_positions or ()), object_min_gap,
                                            num_bots, bot_speed, bot_lane_changes)
        self.object_options.check_fits(self.track)

        self.world = World(self.track, car_spec, control_hz, substeps, renderer=renderer, look=look)
        self.objects = Objects(self.world, self.track, self.object_options)
        self.lidar = Lidar(self.world.client, self.world.car, self.world.ground) if self.lidar_sensor else None
        self._ranges = None  # the last LIDAR scan's raw ranges (m), for info and replays
        self._waypoints = [tuple(map(float, w)) for w in self.track.waypoints]
        self._episode = 0
        self._frames: deque = deque(maxlen=frame_stack)
        self.randomization = as_randomization(randomize)
        on = self.randomization is not None and bool(self.randomization.enabled)
        self._randomizer = Randomizer(self.randomization, self.world, self.track, car_spec) if on else None
        self.drawn: dict | None = None  # what this episode's randomisation drew

    # -- Gymnasium API ---------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if seed is not None:
            self._episode = 0  # a seed restarts the start-point schedule, so the same seed repeats episodes
        options = options or {}
        if "start_fraction" in options:
            fraction = float(options["start_fraction"])
        else:
            fraction = self.start_fraction + self._episode * self.start_advance
        self._episode += 1
        fraction = fraction % 1.0 if self.track.closed else min(fraction, 0.9)
        self.objects.reset(self.np_random, fraction * self.track.length)
        start_s = fraction * self.track.length
        if self.putback_starts and self.objects.placed and self.np_random.random() < self.putback_starts:
            x, y, yaw = pose_at(self.track, *self.objects.as_if_hit(self.np_random))
        else:
            x, y, yaw = pose_at(self.track, *self.objects.clear_spot(start_s))  # the start, clear of objects
        if self.start_noise:
            side = self.np_random.uniform(-0.05, 0.05)
            x, y = x - side * np.sin(yaw), y + side * np.cos(yaw)
            yaw += np.radians(self.np_random.uniform(-3.0, 3.0))
        if self._randomizer is not None:
            self.drawn = self._randomizer.reset(self.np_random, self._episode - 1)
        self.world.reset_car(x, y, yaw)
        self.lap = LapProgress(self.track, self.world.car.reference_point())
        self._steps = 0
        self._falling = self._still = 0
        self._last_xy = np.array([x, y])
        self.counts = {"offtracks": 0, "crashes": 0, "resets": 0}
        frame = self._camera_frame()
        self._frames.extend([frame] * self.frame_stack)
        self._scan()
        start = (*map(float, self.world.car.reference_point()), heading_degrees(yaw), 0.0, 0.0,
                 bool(np.all(self.track.is_inside(self.world.car.wheel_points()))),
                 *self.track.closest_waypoints(self.lap.s), 0.0, None)
        return self._observation(), {"progress": 0.0, "sim_time": 0.0, "lap_time": None, "lap_times": [],
                                     "termination": None, **self.counts, "trace": start,
                                     "objects": self.objects.poses(),
                                     **({"randomization": self.drawn} if self._randomizer else {})}

    def step(self, action):
        steering, speed = self._decode(action)
        world = self.world
        self.objects.step(world.control_dt)  # the bots drive one control period
        world.step(*(self._randomizer.command(steering, speed) if self._randomizer else (steering, speed)))
        self.objects.collide_when_clear()
        car = world.car
        self._steps += 1
        x, y, yaw = car.pose()
        reference = car.reference_point()
        before = self.lap.travelled
        self.lap.update(reference, world.sim_time)
        state = StepState(reference_xy=reference, yaw=yaw, wheels_xy=car.wheel_points(),
                          steering_deg=steering, speed=speed, steps=self._steps, sim_time=world.sim_time,
                          crashed=self.objects.crashed(self.lap.s - self.car_spec.reference_ahead),
                          camera_objects=self._objects_in_view(), objects=self.objects.states())
        params = reward_params(self.track, self.lap, state, self.is_reversed, self._waypoints)

        # progress falling = driving backwards (more than jitter); unclipped, so it counts behind the start too
        self._falling = self._falling + 1 if self.lap.travelled < before - STUCK_DISTANCE else 0
        moved = float(np.hypot(x - self._last_xy[0], y - self._last_xy[1]))
        self._still = self._still + 1 if moved < STUCK_DISTANCE else 0
        self._last_xy = np.array([x, y])
        termination = self._termination(params)
        event = termination  # what happened, before the race rules put the car back: the sim-trace's status
        if termination in ("off_track", "crashed"):
            self.counts["offtracks" if termination == "off_track" else "crashes"] += 1
        reward = self.reward_function(params)  # the step that ends an episode is scored too
        if self.race and termination in self.penalties:
            termination = self._put_back(termination)
        truncated = termination is None and self._steps >= self.max_steps

        self._frames.append(self._camera_frame())
        self._scan()
        info = {"progress": params["progress"], "sim_time": world.sim_time,
                "lap_time": self.lap.lap_time, "lap_times": list(self.lap.lap_times),
                "termination": termination or ("max_steps" if truncated else None), **self.counts,
                "objects": self.objects.poses()}
        info["trace"] = (params["x"], params["y"], params["heading"], steering, speed, params["all_wheels_on_track"],
                         *params["closest_waypoints"], params["sim_time"], event)
        if self.info_params:
            info["params"] = params
        return self._observation(), reward, termination is not None, truncated, info

    def render(self):
        if self.render_mode != "rgb_array":
            return None
        if self.render_view == "topdown":
            from racekit.sim.topdown import topdown_view
            return topdown_view(self)
        return chase_camera(self.world.client, self.world.car)

    @property
    def lidar_ranges(self) -> np.ndarray | None:
        """The last LIDAR scan's 64 raw ranges (m, inf where nothing returned; sim/lidar.py's ray order), as the
        scanner gave them before any LIDAR form; None without a LIDAR."""
        return None if self._ranges is None else self._ranges.copy()

    def close(self):
        self.world.close()

    # -- helpers ---------------------------------------------------------------------------------------
    def _decode(self, action) -> tuple[float, float]:
        if self.actions is not None:
            steering, speed = self.actions[int(action)]
        else:
            steering, speed = np.clip(np.asarray(action, np.float32).reshape(2), self.action_space.low,
                                      self.action_space.high)
        return float(steering), float(speed)

    def _put_back(self, kind: str) -> str | None:
        """Race rules: a time penalty that the car stands out while the bots drive on. A car that ran into a
        bot stands where it hit it; any other is put back at rest in the nearer lane where it was (or, with a
        box within 1 m, 1 m behind it in the other lane: sim/objects.py). Then, as DeepRacer's blinking car,
        it passes through the bots until it is clear of them; DeepRacer blinks a car only for a penalty above 0 s."""
        self.counts["resets"] += 1
        if self.max_resets is not None and self.counts["resets"] > self.max_resets:
            return "dnf"
        penalty = self.penalties[kind]
        self.objects.drive_on(penalty, self.world.control_dt)
        if kind == "crashed" and self.objects.ran_into_bot:
            x, y, yaw = self.world.car.pose()
        else:  # a box within 1 m puts the car behind it; a bot does not (the car passes through bots)
            s = self.lap.s - self.car_spec.reference_ahead
            lateral = nearer_lane(self.track, s, self.world.car.pose()[:2])
            x, y, yaw = pose_at(self.track, *self.objects.clear_spot(s, lateral, bots=False))
        if penalty > 0:
            self.objects.pass_through_bots()
        self.world.place_car(x, y, yaw)
        self.world.sim_time += penalty
        self.lap.add_penalty(penalty)
        self._falling = self._still = 0
        self._last_xy = np.array([x, y])
        return None

    def _termination(self, params: dict) -> str | None:
        if len(self.lap.lap_times) >= self.laps:
            return "lap_complete"
        if params["is_offtrack"]:
            return "off_track"
        if params["is_crashed"]:
            return "crashed"
        if self._falling >= PROGRESS_FALLING_STEPS:
            return "reversed"
        if self._still >= STUCK_STEPS:
            return "stuck"
        return None

    def _objects_in_view(self) -> list[bool]:
        return self.objects.in_view(self.world.car, self.camera)

    def _camera_frame(self) -> np.ndarray:
        if not self.stereo:
            frame = self.world.front_camera(self.camera)
            return frame if self._randomizer is None else self._randomizer.picture(frame)
        pair = self.world.stereo_cameras(self.camera)
        if self._randomizer is None:
            return pair
        return np.concatenate([self._randomizer.picture(pair[:, :, :1]), self._randomizer.picture(pair[:, :, 1:])], 2)

    def _scan(self) -> None:
        """The LIDAR's ranges now, with the scanner's noise (DeepRacer's simulator: 1 cm), drawn from np_random."""
        if self.lidar is not None:
            ranges = self.lidar.scan()
            ranges = ranges + self.np_random.normal(0.0, LIDAR_NOISE_M, ranges.shape) * np.isfinite(ranges)
            self._ranges = ranges if self._randomizer is None else self._randomizer.scan(ranges)

    def _observation(self):
        frames = np.concatenate(self._frames, axis=2) if self.frame_stack > 1 else self._frames[-1]
        if self.lidar is None:
            return frames
        return {self.sensors[0]: frames,
                self.lidar_sensor: lidar_observation(self._ranges, self.lidar_sensor, self.lidar_config)}
