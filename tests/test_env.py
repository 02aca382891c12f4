"""The Gymnasium env: API conformance, seeding, starts, reverse runs and every episode-end rule."""
import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import racekit.envs  # noqa: F401  (registers the racekit/ env ids)
from racekit.sim import DEEPRACER_ACTIONS
from racekit.sim.env import TimeTrialEnv
from racekit.sim.expert import ExpertDriver, drive_lap
from simtools import frame_hash, straight_track


@pytest.mark.parametrize("kwargs", [{}, {"frame_stack": 3, "grayscale": False}, {"actions": DEEPRACER_ACTIONS}])
def test_passes_gymnasium_env_checker(kwargs):
    env = TimeTrialEnv(**kwargs)
    check_env(env, skip_render_check=True)
    env.close()


def test_registered_ids_make_working_envs():
    for env_id, shape in [("racekit/TimeTrial-v0", (60, 80, 1)), ("racekit/TimeTrialDeepRacerCamera-v0", (120, 160, 3))]:
        env = gym.make(env_id)
        obs, _ = env.reset(seed=0)
        assert obs.shape == shape and obs.dtype == np.uint8
        obs, *_ = env.step(env.action_space.sample())
        assert env.observation_space.contains(obs)
        env.close()
    env = gym.make("racekit/TimeTrialDiscrete-v0")
    assert env.action_space.n == 10
    env.close()


def test_frame_stack_holds_the_last_frames_oldest_first():
    env = TimeTrialEnv(frame_stack=3)
    obs0, _ = env.reset(seed=0)
    assert obs0.shape == (60, 80, 3)
    assert np.array_equal(obs0[:, :, 0], obs0[:, :, 2])  # the first observation repeats the first frame
    obs1, *_ = env.step(np.array([0.0, 3.0], np.float32))
    obs2, *_ = env.step(np.array([0.0, 3.0], np.float32))
    assert np.array_equal(obs2[:, :, 1], obs1[:, :, 2])  # frames shift left by one each step
    assert not np.array_equal(obs2[:, :, 2], obs2[:, :, 1])  # the car moved: a new frame
    env.close()


def rollout_hashes(seed: int, steps: int = 40) -> list[str]:
    env = TimeTrialEnv(start_noise=True)
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    hashes = [frame_hash(obs)]
    for _ in range(steps):
        obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
        hashes.append(frame_hash(obs))
        if terminated or truncated:
            obs, _ = env.reset()
            hashes.append(frame_hash(obs))
    env.close()
    return hashes


def test_same_seed_gives_identical_observations_and_another_seed_differs():
    assert rollout_hashes(7) == rollout_hashes(7)
    assert rollout_hashes(7)[0] != rollout_hashes(8)[0]


def test_start_point_advances_five_percent_per_episode_and_a_seed_restarts_it():
    env = TimeTrialEnv()
    starts = []
    for episode in range(3):
        env.reset(seed=0 if episode == 0 else None)
        starts.append(env.lap.start_s)
    gaps = np.diff(starts) % env.track.length
    assert gaps == pytest.approx([0.05 * env.track.length] * 2, abs=0.03)
    env.reset(seed=0)
    assert env.lap.start_s == pytest.approx(starts[0])
    env.reset(options={"start_fraction": 0.5})
    # the car's centre sits at the start point; the lap is measured from its reference point 0.14 m ahead
    assert env.lap.start_s == pytest.approx(0.5 * env.track.length + env.car_spec.reference_ahead, abs=0.02)
    env.close()


def test_expert_completes_a_lap_and_the_lap_time_is_simulated():
    env = TimeTrialEnv()
    result = drive_lap(env)
    assert result["termination"] == "lap_complete"
    # the line is crossed during the last control step: the interpolated time lies inside it
    assert (result["steps"] - 1) / 15 < result["lap_time"] <= result["steps"] / 15 + 1e-9
    env.close()


def test_reversed_run_drives_the_other_way_round():
    forward, backward = TimeTrialEnv(), TimeTrialEnv(reverse=True)
    f = drive_lap(forward)["info"]["params"]
    b = drive_lap(backward)["info"]["params"]
    assert b["is_reversed"] and not f["is_reversed"]
    # DeepRacer reverses a route by its rows: the start point stays first, the rest run backwards
    assert b["waypoints"] == f["waypoints"][:1] + f["waypoints"][:0:-1]
    assert backward.track.direction != forward.track.direction
    forward.close(), backward.close()


def test_off_track_ends_the_episode_and_the_terminal_step_is_scored():
    calls = []
    env = TimeTrialEnv(reward_function=lambda params: calls.append(params) or 1.0)
    env.reset(seed=0)
    terminated, info = False, {}
    while not terminated:
        _, _, terminated, truncated, info = env.step(np.array([30.0, 1.0], np.float32))
        assert not truncated
    assert info["termination"] == "off_track"
    assert calls[-1]["is_offtrack"] and not calls[-1]["all_wheels_on_track"]
    assert len(calls) == calls[-1]["steps"]
    env.close()


def test_driving_backwards_ends_with_reversed():
    env = TimeTrialEnv()
    env.reset(seed=0, options={"start_fraction": 0.2})
    x, y, yaw = env.world.car.pose()
    env.world.reset_car(x, y, yaw + np.pi)  # turn the car round where it stands
    for step in range(1, 40):
        _, _, terminated, _, info = env.step(np.array([0.0, 1.0], np.float32))
        if terminated:
            break
    assert info["termination"] == "reversed" and step <= 17  # 15 falling steps, after one or two to start
    env.close()


def test_a_stopped_car_ends_as_stuck():
    env = TimeTrialEnv(speed_range=(0.0, 4.0))
    env.reset(seed=0)
    for step in range(1, 40):
        _, _, terminated, _, info = env.step(np.array([0.0, 0.0], np.float32))
        if terminated:
            break
    assert info["termination"] == "stuck" and step <= 17
    env.close()


def test_crash_into_an_obstacle_ends_the_episode_with_object_params(tmp_path):
    track = straight_track(tmp_path, obstacle="obstacle: 3 0 0.3")
    calls = []
    env = TimeTrialEnv(track=str(track), reward_function=lambda p: calls.append(p) or 0.5)
    env.reset(seed=0)
    info = {}
    for _ in range(100):
        _, _, terminated, _, info = env.step(np.array([0.0, 1.5], np.float32))
        if terminated:
            break
    assert info["termination"] == "crashed" and calls[-1]["is_crashed"]
    first = calls[0]
    assert first["objects_location"] == [(3.0, 0.0)]
    assert first["object_in_camera"] is True  # straight ahead
    assert first["objects_distance"][0] == pytest.approx(3.0, abs=0.05)
    assert first["objects_distance_from_center"][0] == pytest.approx(0.0, abs=0.02)
    env.close()


def test_step_cap_truncates():
    env = TimeTrialEnv(max_steps=5)
    env.reset(seed=0)
    driver = ExpertDriver(env)
    results = [env.step(driver.act()) for _ in range(5)]
    assert [r[3] for r in results] == [False] * 4 + [True]
    assert results[-1][4]["termination"] == "max_steps" and not results[-1][2]
    env.close()


def test_discrete_actions_map_to_deepracer_steering_and_speed():
    calls = []
    env = TimeTrialEnv(actions=[(-30.0, 1.0), (0.0, 2.0), (30.0, 3.0)], reward_function=lambda p: calls.append(p) or 1.0)
    env.reset(seed=0)
    env.step(2)
    assert (calls[-1]["steering_angle"], calls[-1]["speed"]) == (30.0, 3.0)
    env.close()


def test_render_gives_chase_and_topdown_pictures():
    env = TimeTrialEnv(render_mode="rgb_array")
    env.reset(seed=0)
    chase = env.render()
    assert chase.shape == (360, 480, 3) and chase.dtype == np.uint8
    red = (chase[:, :, 0] > 150) & (chase[:, :, 1] < 80) & (chase[:, :, 2] < 80)
    assert red[180:, 160:320].sum() > 200  # the red car, in the lower middle of the chase view
    env.close()
    env = TimeTrialEnv(render_mode="rgb_array", render_view="topdown")
    env.reset(seed=0)
    top = env.render()
    assert top.ndim == 3 and ((top[:, :, 0] > 180) & (top[:, :, 1] < 80)).sum() > 10
    env.close()


@pytest.mark.parametrize("kwargs, field", [({"frame_stack": 0}, "frame_stack"), ({"render_mode": "human"}, "render_mode"),
                                           ({"steering_range": (-40, 40)}, "steering"),
                                           ({"speed_range": (3, 1)}, "ranges"),
                                           ({"fov_deg": 5.0}, "fov_deg"), ({"fov_deg": 170}, "fov_deg"),
                                           ({"fov_deg": float("nan")}, "fov_deg"), ({"fov_deg": "wide"}, "fov_deg"),
                                           ({"fov_deg": True}, "fov_deg"),
                                           ({"camera_mount": "roof"}, "camera_mount must be one of racekit, deepracer"),
                                           ({"camera_mount": None}, "camera_mount"),
                                           ({"look": "mars"}, "look must be one of racekit, deepracer")])
def test_bad_arguments_name_the_argument(kwargs, field):
    with pytest.raises(ValueError, match=field):
        TimeTrialEnv(**kwargs)


def test_the_camera_and_look_arguments_default_to_racekits_and_change_nothing_when_given_so():
    from racekit.sim.camera import CameraSpec
    from racekit.sim.car import CarSpec

    plain = TimeTrialEnv(track="oval", grayscale=False)
    explicit = TimeTrialEnv(track="oval", grayscale=False, fov_deg=120.0, camera_mount="racekit", look="racekit")
    assert plain.camera == CameraSpec(80, 60, 3, 120.0) and plain.car_spec == CarSpec()
    assert (plain.camera_mount, plain.look, plain.world.look) == ("racekit", "racekit", "racekit")
    for env in (plain, explicit):
        env.reset(seed=3)
    for _ in range(5):
        a, *_ = plain.step(np.array([10.0, 2.0], np.float32))
        b, *_ = explicit.step(np.array([10.0, 2.0], np.float32))
        assert np.array_equal(a, b)
    assert np.all(a[0] == 255)  # racekit's white sky on the top row
    plain.close()
    explicit.close()


def test_deepracers_camera_and_look_pass_gymnasiums_checker_and_seed_alike():
    env = TimeTrialEnv(track="oval", camera_width=160, camera_height=120, fov_deg=64.74, camera_mount="deepracer",
                       look="deepracer")
    check_env(env, skip_render_check=True)
    first, _ = env.reset(seed=1)
    again, _ = env.reset(seed=1)
    assert np.array_equal(first, again) and first.shape == (120, 160, 1)
    env.close()


def test_race_of_three_laps_times_each_lap_and_flying_laps_are_faster():
    env = TimeTrialEnv(laps=3, race=True)
    result = drive_lap(env)
    times = result["info"]["lap_times"]
    assert result["termination"] == "lap_complete" and len(times) == 3
    assert times[1] < times[0] and times[2] < times[0]  # the first lap starts from rest
    assert sum(times) == pytest.approx(result["info"]["sim_time"], abs=1 / 15)
    env.close()


def test_race_puts_the_car_back_after_an_off_track_and_the_penalty_counts_in_the_lap():
    clean_env = TimeTrialEnv(race=True)
    clean = drive_lap(clean_env)["lap_time"]
    env = TimeTrialEnv(race=True, offtrack_penalty=2.0)
    driver = ExpertDriver(env)
    env.reset(seed=0)
    info, step = {}, 0
    while True:
        step += 1
        # from the 20th step, steer hard left until the first off-track; the expert drives otherwise
        action = np.array([30.0, 2.0], np.float32) if step >= 20 and info.get("offtracks", 0) == 0 else driver.act()
        _, _, terminated, truncated, info = env.step(action)
        if terminated or truncated:
            break
    assert info["termination"] == "lap_complete" and info["offtracks"] == 1 and info["resets"] == 1
    assert info["lap_time"] > clean + 2.0
    env.close(), clean_env.close()


@pytest.mark.parametrize("steering, side", [(30.0, 1.0), (-30.0, -1.0)])
def test_race_puts_a_car_back_in_the_nearer_lane_where_it_left_the_track(steering, side):
    """DeepRacer's put-back (markov/agent_ctrl/rollout_agent_ctrl.py): at rest in the lane, of the two, nearer
    to the car, at its place along the track, facing along it."""
    env = TimeTrialEnv(race=True, offtrack_penalty=1.0)
    env.reset(seed=0)
    for step in range(200):  # straight on, then hard over to one side until the car leaves the track
        _, _, _, _, info = env.step(np.array([steering if step >= 10 else 0.0, 2.0], np.float32))
        if info["offtracks"]:
            break
    x, y, yaw = env.world.car.pose()
    s, offset = env.track.project(np.array([x, y]))
    assert info["offtracks"] == 1 and env.world.car.speed() < 0.05
    assert offset == pytest.approx(side * env.track.width_at(s) / 4, abs=0.02)
    assert abs((yaw - env.track.heading_at(s) + np.pi) % (2 * np.pi) - np.pi) < 0.05
    env.close()


def test_race_ends_as_dnf_after_too_many_resets():
    env = TimeTrialEnv(race=True, max_resets=2, offtrack_penalty=2.0)
    env.reset(seed=0)
    for _ in range(500):
        _, _, terminated, truncated, info = env.step(np.array([30.0, 2.0], np.float32))
        if terminated or truncated:
            break
    assert info["termination"] == "dnf" and info["offtracks"] == 3 and info["resets"] == 3
    assert info["sim_time"] >= 2 * 2.0  # two penalties served before the third off-track
    env.close()
