"""The rollout collector (agent/rollout.py): which episode ends it bootstraps from the value after them."""
import gymnasium as gym
import numpy as np
import pytest
import torch

from racekit.agent.policy import ActionSpec, ActorCritic
from racekit.agent.ppo import PPOConfig
from racekit.agent.rollout import RolloutCollector

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SHAPE = (36, 48, 1)


class ShortLaps(gym.Env):
    """Episodes of `length` steps that end as `ending` says, with the info keys TimeTrialEnv gives."""

    observation_space = gym.spaces.Box(0, 255, SHAPE, np.uint8)
    action_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)

    def __init__(self, ending: str, length: int = 5):
        self.ending, self.length, self.steps = ending, length, 0

    def _obs(self):
        return np.full(SHAPE, 40 * self.steps, np.uint8)  # a different picture each step: different values

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.steps = 0
        return self._obs(), {}

    def step(self, action):
        self.steps += 1
        ended = self.steps == self.length
        info = {"progress": 100.0 if ended and self.ending == "lap_complete" else 20.0 * self.steps,
                "termination": self.ending if ended else None, "lap_time": 1.0}
        truncated = ended and self.ending == "max_steps"
        return self._obs(), 1.0, ended and not truncated, truncated, info


def collect(ending: str, bootstrap_at_finish: bool):
    envs = gym.vector.SyncVectorEnv([lambda: ShortLaps(ending)], autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    cfg = PPOConfig(envs=1, rollout_steps=8, gamma=0.9, bootstrap_at_finish=bootstrap_at_finish)
    torch.manual_seed(0)
    model = ActorCritic(SHAPE, ActionSpec(low=(-30.0, 0.5), high=(30.0, 4.0)))
    collector = RolloutCollector(envs, model, cfg, seed=0)
    collector.collect()
    envs.close()
    with torch.no_grad():
        after_finish = model.value(torch.from_numpy(np.full((1, *SHAPE), 200, np.uint8))).item()
    return collector.rewards[:, 0], after_finish


@pytest.mark.parametrize("ending,bootstrap_at_finish,bootstrapped", [
    ("lap_complete", False, False),  # DeepRacer's rule: the finish ends the returns
    ("lap_complete", True, True),    # the race goes on past the finish line
    ("offtrack", True, False),       # leaving the track ends them either way
    ("max_steps", False, True),      # a step cap is never the end of the task
])
def test_the_step_that_ends_an_episode_adds_the_value_after_it_only_when_racing_goes_on(
        ending, bootstrap_at_finish, bootstrapped):
    rewards, after = collect(ending, bootstrap_at_finish)
    assert after != 0.0  # else the test could not tell the two apart
    expected = torch.ones(8)
    if bootstrapped:
        expected[4] += 0.9 * after  # the 5th step ends the episode; its final picture is 5 * 40
    assert torch.allclose(rewards, expected, atol=1e-6)
