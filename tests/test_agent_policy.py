"""The actor-critic's action distributions: the Beta stays inside the action bounds, scores its own samples,
races its mean, and PPO's update moves it towards the actions that paid."""
import numpy as np
import pytest
import torch

from racekit.agent.policy import ActionSpec, ActorCritic, DeterministicPolicy
from racekit.agent.ppo import PPOConfig, ppo_update

SPEC = ActionSpec(low=(-30.0, 0.5), high=(30.0, 4.0))
SHAPE = (40, 40, 1)
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def frames(n: int, seed: int = 0) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).integers(0, 256, (n, *SHAPE), dtype=np.uint8))


def test_beta_samples_never_leave_the_bounds_and_score_themselves():
    torch.manual_seed(0)
    model = ActorCritic(SHAPE, SPEC, distribution="beta")
    with torch.no_grad():
        model.actor.bias.copy_(torch.tensor([-6.0, 2.0, 8.0, -6.0]))  # steering pushed right to the left edge
        obs = frames(64)
        action, log_prob, entropy, value = model.act(obs)
        assert action.shape == (64, 2) and log_prob.shape == entropy.shape == value.shape == (64,)
        assert torch.all(action > -1.0) and torch.all(action < 1.0)  # nothing for the env to clip
        assert torch.all(torch.isfinite(log_prob))
        _, again, _, _ = model.act(obs, action)  # PPO re-scores stored actions: the same log-probabilities
        assert torch.allclose(again, log_prob, atol=1e-4)


def test_the_raced_action_is_the_beta_mean_in_physical_units():
    torch.manual_seed(1)
    model = ActorCritic(SHAPE, SPEC, distribution="beta")
    with torch.no_grad():
        model.actor.bias.copy_(torch.tensor([1.0, 3.0, 2.0, 0.5]))
        obs = frames(1).expand(4000, *SHAPE)
        sampled = SPEC.to_env(model.act(obs)[0].numpy()).mean(axis=0)
        raced = DeterministicPolicy(model)(obs[:1]).numpy()[0]
    assert np.allclose(raced, sampled, atol=[0.6, 0.04])  # 4000 samples: the mean to about 1%
    assert -30.0 < raced[0] < 0.0 and raced[1] > 2.25  # alpha < beta steers left; alpha > beta drives fast


def test_ppo_moves_the_beta_towards_the_actions_that_paid():
    torch.manual_seed(2)
    model = ActorCritic(SHAPE, SPEC, distribution="beta")
    obs = frames(256)
    with torch.no_grad():
        action, log_prob, _, value = model.act(obs)
        before = model.greedy(model.features(obs)).mean(0)
    batch = {"obs": obs, "actions": action, "log_probs": log_prob, "returns": value,
             "advantages": action[:, 1].clone()}  # faster than the mean paid, slower cost: steering did not matter
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(5):
        ppo_update(model, optimizer, batch, PPOConfig(minibatch=64, epochs=4, entropy=0.0), torch.Generator())
    with torch.no_grad():
        after = model.greedy(model.features(obs)).mean(0)
    assert after[1] > before[1] + 0.1
    assert abs(after[0] - before[0]) < 0.5 * (after[1] - before[1])


def test_a_beta_needs_continuous_actions():
    table = ActionSpec(table=((0.0, 1.0), (30.0, 1.0)))
    with pytest.raises(ValueError, match="beta distribution needs continuous actions"):
        ActorCritic(SHAPE, table, distribution="beta")
    with pytest.raises(ValueError, match="distribution must be one of gaussian, beta"):
        ActorCritic(SHAPE, SPEC, distribution="uniform")
