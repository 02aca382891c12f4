"""Race types with objects (issue 11): object avoidance's boxes and head-to-bot's bots, in the real env.

Every object param is checked against the geometry it describes: where the boxes were put, which one the
car has just passed, how far each is along the track from the start line, and how the bots really moved.
"""
import math

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import racekit.envs  # noqa: F401  (registers the racekit/ env ids)
from racekit.agent.train import RunConfig
from racekit.cli import main
from racekit.sim import objects
from racekit.sim.env import TimeTrialEnv
from racekit.sim.expert import ExpertDriver
from simtools import centre_distance, straight_track

SLOW = np.array([0.0, 0.5], np.float32)


def params_after_one_step(env, start_fraction: float, action=SLOW) -> dict:
    env.reset(seed=0, options={"start_fraction": start_fraction})
    return env.step(action)[4]["params"]


def wrapped_gaps(distances: list[float], length: float) -> np.ndarray:
    """Along-track gaps between neighbouring objects, around the loop."""
    s = np.sort(distances)
    return np.diff(np.append(s, s[0] + length))


@pytest.mark.parametrize("env_id", ["racekit/ObjectAvoidance-v0", "racekit/HeadToBot-v0"])
def test_the_new_ids_pass_the_gymnasium_env_checker(env_id):
    env = gym.make(env_id)
    check_env(env.unwrapped, skip_render_check=True)
    obs, info = env.reset(seed=0)
    assert len(info["objects"]) == (6 if "Object" in env_id else 3)
    env.close()


# -- object avoidance ----------------------------------------------------------------------------------------
def test_fixed_positions_are_honoured_and_left_right_follows_the_lane():
    env = TimeTrialEnv(race_type="object-avoidance", object_positions=[(0.1, 1), (0.5, -1), (0.8, 1)])
    p = params_after_one_step(env, 0.0)
    length = env.track.length
    assert p["objects_distance"] == pytest.approx([0.1 * length, 0.5 * length, 0.8 * length], abs=0.05)
    assert p["objects_left_of_center"] == [True, False, True]
    for (x, y), s, off in zip(p["objects_location"], p["objects_distance"], p["objects_distance_from_center"]):
        lane = env.track.width_at(s) / 4  # a lane line: halfway between the centre line and a border
        assert off == pytest.approx(lane, abs=0.01)
        assert centre_distance(env.track, (x, y)) == pytest.approx(lane, abs=0.01)  # measured independently
    assert p["objects_speed"] == [0.0] * 3 and p["objects_heading"] == [0.0] * 3
    env.close()


def test_closest_objects_are_the_one_just_behind_and_the_one_just_ahead_and_wrap_at_the_start_line():
    env = TimeTrialEnv(race_type="object-avoidance", object_positions=[(0.2, 1), (0.5, -1), (0.9, 1)])
    for car, behind, ahead in [(0.05, 2, 0), (0.3, 0, 1), (0.6, 1, 2), (0.95, 2, 0)]:
        p = params_after_one_step(env, car)
        assert p["closest_objects"] == [behind, ahead], car
        # the one ahead is the nearest forward along the track, the one behind the nearest backward
        forward = [(d - p["projection_distance"]) % env.track.length for d in p["objects_distance"]]
        assert np.argmin(forward) == ahead and np.argmax(forward) == behind
    # the distances are from the start line, not from this episode's start: they do not move with the car
    assert p["objects_distance"] == pytest.approx([0.2 * env.track.length, 0.5 * env.track.length,
                                                   0.9 * env.track.length], abs=0.05)
    env.close()


def test_a_seed_repeats_the_placement_another_differs_and_each_episode_moves_the_boxes():
    env = TimeTrialEnv(race_type="object-avoidance")
    first = env.reset(seed=3)[1]["objects"]
    again = env.reset(seed=3)[1]["objects"]
    other = env.reset(seed=4)[1]["objects"]
    following = env.reset()[1]["objects"]
    assert first == again and first != other and following != other
    assert len(env.world.bodies) == 6  # moved, never made anew
    env.close()


def test_random_boxes_keep_the_minimum_gap_and_lie_ahead_of_the_start():
    env = TimeTrialEnv(race_type="object-avoidance", num_objects=8, object_min_gap=2.0)
    length = env.track.length
    env.reset(seed=0)
    for _ in range(6):
        p = env.step(SLOW)[4]["params"]
        assert wrapped_gaps(p["objects_distance"], length).min() >= 2.0 - 0.05
        start = env.lap.start_s
        ahead = [(d - start) % length for d in p["objects_distance"]]
        # placed from the car's centre; lap.start_s is its reference point, 0.14 m further on
        assert min(ahead) >= 2.0 - 0.2 and max(ahead) <= length - 1.0
        env.reset()
    env.close()


def test_lanes_are_drawn_at_random_over_episodes():
    env = TimeTrialEnv(race_type="object-avoidance")
    sides = set()
    for seed in range(4):
        env.reset(seed=seed)
        sides.update(env.step(SLOW)[4]["params"]["objects_left_of_center"])
    assert sides == {True, False}
    env.close()


@pytest.mark.parametrize("kwargs, field", [
    ({"race_type": "drag-race"}, "race_type"), ({"race_type": "object-avoidance", "num_objects": 0}, "num_objects"),
    ({"race_type": "object-avoidance", "num_objects": 11}, "num_objects"),
    ({"race_type": "object-avoidance", "object_positions": [(1.5, 1)]}, "object_positions"),
    ({"race_type": "object-avoidance", "object_positions": [(0.5, 0)]}, "object_positions"),
    ({"race_type": "object-avoidance", "num_objects": 10, "object_min_gap": 3.0}, "object_min_gap"),
    ({"race_type": "head-to-bot", "num_bots": 0}, "num_bots"),
    ({"race_type": "head-to-bot", "bot_speed": 0}, "bot_speed"),
])
def test_bad_object_options_name_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        TimeTrialEnv(**kwargs)


def narrow_track_with_a_box(tmp_path, **kwargs):
    """A 0.6 m road with one box 3 m ahead on the left lane line: it reaches the centre line."""
    track = straight_track(tmp_path, width=0.6)
    env = TimeTrialEnv(track=str(track), race_type="object-avoidance", **kwargs)
    env.reset(seed=0)  # the start line is the start
    fraction = 3.0 / env.track.length
    env.close()
    return TimeTrialEnv(track=str(track), race_type="object-avoidance", object_positions=[(fraction, 1)], **kwargs)


def drive_until_crash(env, action=np.array([0.0, 1.5], np.float32), steps: int = 60):
    for _ in range(steps):
        result = env.step(action)
        if result[4]["params"]["is_crashed"]:
            return result
    raise AssertionError("no crash")


def test_driving_into_a_box_crashes_and_ends_a_training_episode(tmp_path):
    env = narrow_track_with_a_box(tmp_path)
    env.reset(seed=0)
    _, _, terminated, _, info = drive_until_crash(env)
    assert terminated and info["termination"] == "crashed" and info["crashes"] == 1
    assert info["params"]["x"] == pytest.approx(3.0 - objects.BOX_SIZE[0] / 2, abs=0.15)  # at the box's back
    env.close()


def test_a_race_adds_five_seconds_puts_the_car_clear_of_the_box_and_goes_on(tmp_path):
    env = narrow_track_with_a_box(tmp_path, race=True)
    env.reset(seed=0)
    before = env.world.sim_time
    _, _, terminated, _, info = drive_until_crash(env)
    assert not terminated and info["termination"] is None and info["crashes"] == 1
    assert info["sim_time"] == pytest.approx(before + env.world.control_dt * env._steps + 5.0)
    # put back 1 m behind the box, in the other lane, at rest: not touching it
    x, y, _ = env.world.car.pose()
    assert x == pytest.approx(3.0 - objects.RESET_BEHIND, abs=0.02) and y == pytest.approx(-0.15, abs=0.02)
    assert not env.objects.crashed(env.lap.s)
    for _ in range(25):  # and drives past it on the free side
        _, _, terminated, _, info = env.step(np.array([0.0, 1.5], np.float32))
    assert not terminated and info["crashes"] == 1 and info["params"]["x"] > 3.5
    env.close()


@pytest.mark.parametrize("renderer", ["fast", "tiny"])
def test_the_camera_sees_a_box_ahead(renderer):
    fraction = 0.3
    without = TimeTrialEnv(renderer=renderer)
    length = without.track.length
    with_box = TimeTrialEnv(race_type="object-avoidance", renderer=renderer,
                            object_positions=[(fraction + 1.5 / length, 1)])
    seen = with_box.reset(seed=0, options={"start_fraction": fraction})[0]
    empty = without.reset(seed=0, options={"start_fraction": fraction})[0]
    p_box = with_box.step(SLOW)[4]["params"]
    p_empty = without.step(SLOW)[4]["params"]
    assert p_box["object_in_camera"] is True and p_empty["object_in_camera"] is False
    differ = np.abs(seen.astype(int) - empty.astype(int)).max(axis=2) > 20
    rows, cols = np.nonzero(differ)
    assert differ.sum() > 20  # the box, a few dozen pixels at 80x60 ...
    assert rows.mean() < seen.shape[0] * 0.8 and cols.mean() < seen.shape[1] / 2  # ... up the road, left lane
    # behind the car it is out of view
    assert params_after_one_step(with_box, fraction + 3.0 / length)["object_in_camera"] is False
    with_box.close()
    without.close()


# -- head-to-bot ---------------------------------------------------------------------------------------------
def test_bot_speeds_and_headings_match_their_motion_through_lane_changes():
    env = TimeTrialEnv(race_type="head-to-bot", num_bots=2, bot_speed=1.0, bot_lane_changes=True)
    env.reset(seed=0)
    driver = ExpertDriver(env, max_speed=0.8)  # on the track, and slower than the bots: they never meet
    dt = env.world.control_dt
    history = [env.step(driver.act())[4]["params"] for _ in range(160)]
    for a, b in zip(history, history[1:]):
        for i in range(2):
            (x0, y0), (x1, y1) = a["objects_location"][i], b["objects_location"][i]
            assert math.hypot(x1 - x0, y1 - y0) / dt == pytest.approx(b["objects_speed"][i], rel=0.05)
            moved = math.degrees(math.atan2(y1 - y0, x1 - x0))
            mean = math.degrees(math.atan2(math.sin(math.radians(a["objects_heading"][i]))
                                           + math.sin(math.radians(b["objects_heading"][i])),
                                           math.cos(math.radians(a["objects_heading"][i]))
                                           + math.cos(math.radians(b["objects_heading"][i]))))
            assert abs((moved - mean + 180) % 360 - 180) < 3.0
    # over 10 s each bot changed lanes at least once (every 3-5 s), and left/right followed
    for i in range(2):
        sides = [p["objects_left_of_center"][i] for p in history]
        assert True in sides and False in sides
        offsets = [p["objects_distance_from_center"][i] for p in history]
        assert max(offsets) == pytest.approx(env.track.width_at(0.0) / 4, abs=0.03)
    env.close()


def test_bots_start_spread_ahead_of_the_car_and_a_seed_repeats_them():
    env = TimeTrialEnv(race_type="head-to-bot")
    info = env.reset(seed=5)[1]
    p = env.step(SLOW)[4]["params"]
    ahead = sorted((d - env.lap.start_s) % env.track.length for d in p["objects_distance"])
    assert ahead[0] >= objects.BOT_GAP - 0.2 and min(np.diff(ahead)) >= objects.BOT_GAP - 0.1
    assert p["objects_speed"] == [objects.BOT_SPEED] * 3
    assert env.reset(seed=5)[1]["objects"] == info["objects"] != env.reset(seed=6)[1]["objects"]
    env.close()


@pytest.mark.parametrize("race_type", ["object-avoidance", "head-to-bot"])
def test_putback_starts_begin_at_rest_1m_behind_an_object_where_a_race_restarts_a_crashed_car(race_type):
    env = TimeTrialEnv(race_type=race_type, putback_starts=1.0)
    for seed in range(4):
        env.reset(seed=seed)
        states = env.objects.states()
        obj_s, obj_offset = env.track.project(np.array([(o.x, o.y) for o in states]))
        car_s, car_offset = env.track.project(np.array(env.world.car.pose()[:2]))
        gaps = [objects.along(env.track, float(car_s), float(s)) for s in obj_s]
        near = int(np.argmin(np.abs(gaps)))
        assert gaps[near] == pytest.approx(objects.RESET_BEHIND, abs=0.03)
        # behind a box in the other lane (put back); behind a bot in its lane (held where it hit the bot)
        side = -1 if race_type == "object-avoidance" else 1
        assert np.sign(car_offset) == side * np.sign(obj_offset[near]) and abs(car_offset) > 0.15
        assert env.world.car.speed() < 0.01 and not env.objects.crashed(env.lap.s)
        p = env.step(SLOW)[4]["params"]
        if race_type == "head-to-bot":  # every bot drives: DeepRacer stops none that the car ran into
            assert p["objects_speed"] == [objects.BOT_SPEED] * 3
    env.close()


def test_putback_starts_are_drawn_from_the_seed_and_training_gives_them_a_quarter_of_its_episodes():
    env = TimeTrialEnv(race_type="head-to-bot", putback_starts=0.5)

    def put_back(seed: int) -> list[bool]:
        """Which of 30 episodes after reset(seed) start in a lane rather than on the centre line."""
        env.reset(seed=seed)
        return [bool(env.reset() and abs(env.lap.offset) > 0.15) for _ in range(30)]

    first = put_back(3)
    assert first == put_back(3) and 5 < sum(first) < 25  # a seed repeats them; some episodes, not all
    env.close()
    assert RunConfig(race_type="head-to-bot").env_kwargs()["putback_starts"] == 0.25
    assert "putback_starts" not in RunConfig().env_kwargs()  # a time trial has nothing to be put behind
    old = RunConfig(race_type="object-avoidance").to_json()
    del old["putback_starts"]  # a run from before them resumes without them
    assert "putback_starts" not in RunConfig.from_json(old).env_kwargs()


def narrow_bot_env(tmp_path, bot_at: float, **kwargs):
    """One bot on the left lane of a 0.6 m road, `bot_at` metres along the first straight: it overlaps the
    centre line, so a car driving the centre line meets it."""
    track = straight_track(tmp_path, width=0.6)
    length = TimeTrialEnv(track=str(track)).track.length
    return TimeTrialEnv(track=str(track), race_type="head-to-bot", object_positions=[(bot_at / length, 1)], **kwargs)


def test_running_into_a_bot_ahead_is_a_crash_the_car_stands_there_and_the_bot_drives_on(tmp_path):
    env = narrow_bot_env(tmp_path, 2.0, race=True)
    env.reset(seed=0)
    _, _, _, _, info = drive_until_crash(env, np.array([0.0, 1.0], np.float32))
    assert info["crashes"] == 1 and info["params"]["is_crashed"]
    bot_at, car_at = info["params"]["objects_location"][0], env.world.car.pose()
    p = env.step(np.array([0.0, 0.0], np.float32))[4]["params"]  # the first step after the penalty
    held = env.penalties["crashed"] + env.world.control_dt  # the bot drove on while the car stood it out
    assert p["objects_location"][0][0] == pytest.approx(bot_at[0] + objects.BOT_SPEED * held, abs=0.02)
    assert p["objects_speed"] == [objects.BOT_SPEED]  # DeepRacer pauses no bot that the car ran into
    assert env.world.car.pose()[:2] == pytest.approx(car_at[:2], abs=0.05)  # the car goes on from there
    assert env.counts["crashes"] == 1 and env.world.sim_time > env.penalties["crashed"]
    env.close()


def start_behind_the_bot(env) -> float:
    """Reset 1 m along the track, stand one step; where the bot is along the track (its s)."""
    env.reset(seed=0, options={"start_fraction": 1.0 / env.track.length})
    bot = env.step(np.array([0.0, 0.0], np.float32))[4]["params"]["objects_location"][0]
    return float(env.track.project(np.array(bot))[0])


def test_a_car_put_back_onto_a_bot_passes_through_it_as_deepracers_blinking_car(tmp_path):
    """Off the track beside a bot: put back in the nearer lane even where the bot is (DeepRacer does not move
    it behind a bot, only behind a box), and not collidable with the bots until clear of them: no crash, and
    the bot, never touched, never stops."""
    env = narrow_bot_env(tmp_path, 2.0, race=True, offtrack_penalty=1.0)
    bot_s = start_behind_the_bot(env)
    # off the road on the left, 0.1 m behind where the bot will be after the penalty (0.2 m on)
    env.world.place_car(*objects.pose_at(env.track, bot_s + objects.BOT_SPEED * 1.0 - 0.1, 0.5))
    infos = [env.step(np.array([0.0, 0.5], np.float32))[4] for _ in range(40)]  # then on, faster than the bot
    after = infos[1]["params"]  # the first step from where the car was put down
    assert infos[0]["offtracks"] == 1 and after["is_left_of_center"]  # in the nearer lane, the left
    assert np.hypot(after["x"] - after["objects_location"][0][0], after["y"] - after["objects_location"][0][1]) < 0.3
    assert not any(i["params"]["is_crashed"] for i in infos) and infos[-1]["crashes"] == 0
    assert {i["params"]["objects_speed"][0] for i in infos} == {objects.BOT_SPEED}
    assert not env.objects.passing_through  # clear of it: the bots are collidable again
    env.close()


def test_a_car_put_back_with_no_penalty_does_not_blink_and_meets_the_bot(tmp_path):
    """DeepRacer blinks a car only for a penalty above 0 s: put back onto a bot with none, it stays collidable."""
    env = narrow_bot_env(tmp_path, 2.0, race=True, offtrack_penalty=0.0)
    bot_s = start_behind_the_bot(env)
    env.world.place_car(*objects.pose_at(env.track, bot_s - 0.1, 0.5))  # off the road on the left, at the bot
    infos = [env.step(np.array([0.0, 0.5], np.float32))[4] for _ in range(10)]
    assert infos[0]["offtracks"] == 1 and not env.objects.passing_through
    assert any(i["params"]["is_crashed"] for i in infos[1:])
    env.close()


def test_a_bot_running_into_the_car_from_behind_is_not_the_cars_crash(tmp_path):
    env = narrow_bot_env(tmp_path, 1.0, bot_speed=1.0)  # 1.5 m behind the car, catching up at 0.5 m/s
    env.reset(seed=0, options={"start_fraction": 2.5 / env.track.length})
    speeds = []
    for _ in range(75):
        _, _, terminated, _, info = env.step(SLOW)
        speeds.append(info["params"]["objects_speed"][0])
        assert not terminated and not info["params"]["is_crashed"], info["termination"]
    touched = speeds.index(0.0)  # it touched the car and stopped (no crash for the car) ...
    assert 0 < touched and 1.0 in speeds[touched:]  # ... then went on
    env.close()


# -- reward check with objects -------------------------------------------------------------------------------
# DeepRacer's own example 4 ("Stay in one lane without crashing into stationary obstacles or moving vehicles"),
# from the AWS DeepRacer developer guide, deepracer-reward-function-examples: today's version and the older one.
DEEPRACER_EXAMPLE_4 = """\
import math
def reward_function(params):
    '''
    Example of rewarding the agent to stay inside two borders
    and penalizing getting too close to the objects in front
    '''
    all_wheels_on_track = params['all_wheels_on_track']
    distance_from_center = params['distance_from_center']
    track_width = params['track_width']
    objects_location = params['objects_location']
    agent_x = params['x']
    agent_y = params['y']
    _, next_object_index = params['closest_objects']
    objects_left_of_center = params['objects_left_of_center']
    is_left_of_center = params['is_left_of_center']

    # Initialize reward with a small number but not zero
    # because zero means off-track or crashed
    reward = 1e-3

    # Reward if the agent stays inside the two borders of the track
    if all_wheels_on_track and (0.5 * track_width - distance_from_center) >= 0.05:
        reward_lane = 1.0
    else:
        reward_lane = 1e-3

    # Penalize if the agent is too close to the next object
    reward_avoid = 1.0

    # Distance to the next object
    next_object_loc = objects_location[next_object_index]
    distance_closest_object = math.sqrt((agent_x - next_object_loc[0])**2 + (agent_y - next_object_loc[1])**2)

    # Decide if the agent and the next object is on the same lane
    is_same_lane = objects_left_of_center[next_object_index] == is_left_of_center
    if is_same_lane:
        if 0.5 <= distance_closest_object < 0.8:
            reward_avoid *= 0.5
        elif 0.3 <= distance_closest_object < 0.5:
            reward_avoid *= 0.2
        elif distance_closest_object < 0.3:
            reward_avoid = 1e-3  # Likely crashed

    # Calculate reward by putting different weights on
    # the two aspects above
    reward += 1.0 * reward_lane + 4.0 * reward_avoid
    return reward
"""
DEEPRACER_EXAMPLE_4_OLD = DEEPRACER_EXAMPLE_4.replace(
    "    objects_location = params['objects_location']\n    agent_x = params['x']\n    agent_y = params['y']\n",
    "    objects_distance = params['objects_distance']\n").replace(
    "    next_object_loc = objects_location[next_object_index]\n    distance_closest_object = math.sqrt("
    "(agent_x - next_object_loc[0])**2 + (agent_y - next_object_loc[1])**2)\n",
    "    distance_closest_object = objects_distance[next_object_index]\n")


@pytest.mark.parametrize("source", [DEEPRACER_EXAMPLE_4, DEEPRACER_EXAMPLE_4_OLD], ids=["current", "older"])
@pytest.mark.parametrize("race_type", ["object-avoidance", "head-to-bot"])
def test_deepracers_object_avoidance_example_passes_the_check_unchanged(tmp_path, capsys, source, race_type):
    assert source.count("objects_") >= 3 and ("objects_location" in source) != ("objects_distance =" in source)
    path = tmp_path / "reward_function.py"
    path.write_text(source)
    assert main(["reward", "check", str(path), "--race-type", race_type, "--steps", "60"]) == 0
    out = capsys.readouterr().out
    assert f"on piccolo, {race_type}" in out and "ok: every call returned a finite number" in out


def test_the_validation_states_have_the_race_types_objects_and_none_overlaps_the_car():
    from racekit.sim.check import validation_states
    from racekit.tracks import load_track

    track = load_track("piccolo")
    for race_type, count, speed in [("object-avoidance", 6, 0.0), ("head-to-bot", 3, objects.BOT_SPEED)]:
        for name, p in validation_states(track, race_type).items():
            assert len(p["objects_location"]) == count and p["objects_speed"] == [speed] * count, name
            gaps = [abs((d - p["projection_distance"] + track.length / 2) % track.length - track.length / 2)
                    for d in p["objects_distance"]]
            assert min(gaps) >= 1.0 - 1e-6, name
        assert any(p["object_in_camera"] for p in validation_states(track, race_type).values())
    assert validation_states(track)["valid"]["objects_location"] == []
