"""The env works with Stable-Baselines3's PPO unchanged: its CnnPolicy trains a few hundred steps."""
import gymnasium as gym
import numpy as np
import pytest
import torch

import racekit.envs  # noqa: F401  (registers racekit/TimeTrial-v0)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(autouse=True)
def sb3_logs_in_tmp_path(tmp_path, monkeypatch):
    """SB3's default logger makes a folder under the system's temp dir on every learn(); keep it in the test's."""
    monkeypatch.setenv("SB3_LOGDIR", str(tmp_path / "sb3"))


# SB3's checker recommends a [-1, 1] action Box; ours is in physical units (degrees, m/s) on purpose
@pytest.mark.filterwarnings("ignore:We recommend you to use a symmetric and normalized Box action space")
def test_stable_baselines3_ppo_cnn_policy_trains_on_the_registered_env():
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_checker import check_env

    env = gym.make("racekit/TimeTrial-v0", track="oval")  # the registered env, nothing wrapped by us
    check_env(env.unwrapped, warn=True)
    model = PPO("CnnPolicy", env, n_steps=128, batch_size=64, n_epochs=2, seed=0, device="cpu", verbose=0)
    before = [p.detach().clone() for p in model.policy.parameters()]
    model.learn(total_timesteps=256)
    assert model.num_timesteps >= 256
    assert any(not torch.equal(a, b) for a, b in zip(before, model.policy.parameters()))  # it learned something
    obs, _ = env.reset(seed=0)
    action, _ = model.predict(obs, deterministic=True)
    assert env.action_space.contains(np.asarray(action, dtype=np.float32))
    env.close()


@pytest.mark.filterwarnings("ignore:We recommend you to use a symmetric and normalized Box action space")
def test_stable_baselines3_multi_input_policy_trains_on_a_camera_and_lidar_env():
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_checker import check_env

    env = gym.make("racekit/ObjectAvoidance-v0", track="oval", sensors=["front-camera", "lidar"], num_objects=2)
    check_env(env.unwrapped, warn=True)
    model = PPO("MultiInputPolicy", env, n_steps=64, batch_size=32, n_epochs=1, seed=0, device="cpu", verbose=0)
    assert set(model.policy.features_extractor.extractors) == {"front-camera", "lidar"}  # one embedder per sensor
    before = [p.detach().clone() for p in model.policy.parameters()]
    model.learn(total_timesteps=128)
    assert model.num_timesteps >= 128
    assert any(not torch.equal(a, b) for a, b in zip(before, model.policy.parameters()))
    obs, _ = env.reset(seed=0)
    action, _ = model.predict(obs, deterministic=True)
    assert env.action_space.contains(np.asarray(action, dtype=np.float32))
    env.close()
