"""SAC (agent/sac.py): the replay buffer, DrQ's augmentation, the loss terms, checkpoints' export
(`racekit train --algorithm sac` itself: tests/test_train_sac.py)."""
from collections import deque

import numpy as np
import pytest
import torch

from racekit.agent.sac import (SAC_HEAD, ReplayBuffer, SACAgent, SACConfig, critic_target, default_buffer_size,
                               make_optimizers, policy_network, random_shift, sac_update, split_rollout)

H, W = 4, 5  # frames in the buffer tests: tiny, each numbered (pixel [0, 0]: the number mod 251, [0, 1]: the rest)


def number(obs) -> int:
    """The number of an observation's newest frame."""
    return int(obs[0, 0, -1]) + 251 * int(obs[0, 1, -1])


class FakeEnvs:
    """Envs that stack frames as the simulator does (an episode starts with its first frame repeated), each
    frame numbered, episodes ending now and then: the observations a buffer must give back."""

    def __init__(self, envs: int, stack: int, seed: int = 0):
        self.envs, self.stack, self.rng = envs, stack, np.random.default_rng(seed)
        self.counter = 0
        self.stacks = [self._reset() for _ in range(envs)]

    def _frame(self):
        self.counter += 1
        frame = np.full((H, W, 1), self.counter % 251, dtype=np.uint8)
        frame[0, 1] = self.counter // 251
        return frame

    def _reset(self):
        frame = self._frame()
        return deque([frame] * self.stack, maxlen=self.stack)

    def obs(self, e):
        return np.concatenate(self.stacks[e], axis=-1)

    def rollout(self, steps: int):
        """(T, envs, ...) arrays as split_rollout returns them, and the expected (obs, next_obs, terminal)."""
        n = self.envs
        frames = np.zeros((steps, n, H, W, 1), np.uint8)
        final = np.zeros_like(frames)
        actions = self.rng.uniform(-1, 1, (steps, n, 2)).astype(np.float32)
        rewards = self.rng.normal(size=(steps, n)).astype(np.float32)
        terminals, ends = np.zeros((steps, n)), np.zeros((steps, n))
        expected = []
        for t in range(steps):
            for e in range(n):
                obs = self.obs(e)
                frames[t, e] = obs[..., -1:]
                self.stacks[e].append(self._frame())
                end = self.rng.random() < 0.15
                terminal = end and self.rng.random() < 0.5  # the others: truncated, bootstrapped
                next_obs = self.obs(e)
                if end:
                    final[t, e] = next_obs[..., -1:]
                    self.stacks[e] = self._reset()
                ends[t, e], terminals[t, e] = end, terminal
                expected.append((e, obs, next_obs, actions[t, e], rewards[t, e], terminal))
        return dict(frames=frames, actions=actions, rewards=rewards, terminals=terminals, ends=ends,
                    final_frames=final), expected


def transitions_in(buffer: ReplayBuffer):
    """Every transition the buffer can give, rebuilt: (env, obs, next_obs, action, reward, terminal)."""
    out = []
    for e in range(buffer.envs):
        low, high = buffer._candidates(e)
        for i in range(low, high):
            if buffer.starts[e, i % buffer.slots]:
                env, index = np.array([e]), np.array([i])
                out.append((e, buffer.stacked(env, index)[0], buffer.stacked(env, index + 1)[0],
                            buffer.actions[e, i % buffer.slots], buffer.rewards[e, i % buffer.slots],
                            bool(buffer.terminals[e, i % buffer.slots])))
    return out


@pytest.mark.parametrize("stack", [1, 3])
def test_the_buffer_gives_back_every_transition_across_episode_ends(stack):
    fake = FakeEnvs(envs=2, stack=stack)
    buffer = ReplayBuffer(10_000, 2, (H, W, 1), stack)
    expected = []
    for _ in range(3):  # rollouts follow on from each other: the last step's next observation comes next time
        parts, transitions = fake.rollout(20)
        buffer.add(**parts)
        expected += transitions
    got = transitions_in(buffer)
    assert len(buffer) == len(got)
    # all but each env's last transition (its next observation is not in yet)
    waiting = {e: max(i for i, x in enumerate(expected) if x[0] == e) for e in range(2)}
    expected = [x for i, x in enumerate(expected) if i not in waiting.values()]
    assert len(got) == len(expected)
    key = lambda x: number(x[1])  # noqa: E731 (frame numbers are unique)
    for (e, obs, next_obs, action, reward, terminal), want in zip(sorted(got, key=key), sorted(expected, key=key)):
        assert e == want[0]
        assert np.array_equal(obs, want[1]) and np.array_equal(next_obs, want[2])
        assert np.allclose(action, want[3]) and reward == pytest.approx(want[4]) and terminal == bool(want[5])


def test_the_buffer_stores_each_frame_once():
    fake = FakeEnvs(envs=2, stack=4, seed=1)
    buffer = ReplayBuffer(10_000, 2, (H, W, 1), 4)
    parts, transitions = fake.rollout(30)
    buffer.add(**parts)
    assert buffer.frames.shape == (2, buffer.slots, H, W, 1)  # single frames: no stack, no next observation
    finals = int(parts["ends"].sum())
    assert buffer.written.sum() == 2 * 30 + finals  # a slot per step, and one per episode's final frame
    numbers = [number(buffer.frames[e, i]) for e in range(2) for i in range(int(buffer.written[e]))]
    assert len(numbers) == len(set(numbers))  # no frame twice


def test_the_ring_wraps_and_samples_only_what_it_still_holds():
    fake = FakeEnvs(envs=2, stack=3, seed=2)
    buffer = ReplayBuffer(2 * 40, 2, (H, W, 1), 3)
    expected = []
    for _ in range(6):
        parts, transitions = fake.rollout(25)
        buffer.add(**parts)
        expected += transitions
    assert buffer.written.min() > buffer.slots  # wrapped
    wanted = {number(x[1]): x for x in expected}
    got = transitions_in(buffer)
    assert 0 < len(got) <= buffer.capacity
    for e, obs, next_obs, *_ in got:
        want = wanted[number(obs)]
        assert e == want[0] and np.array_equal(obs, want[1]) and np.array_equal(next_obs, want[2])
    batch = buffer.sample(64)
    assert batch["obs"].shape == (64, H, W, 3) and batch["obs"].dtype == torch.uint8
    assert batch["next_obs"].shape == (64, H, W, 3) and batch["actions"].shape == (64, 2)
    for obs, next_obs in zip(batch["obs"].numpy(), batch["next_obs"].numpy()):
        assert np.array_equal(obs, wanted[number(obs)][1]) and np.array_equal(next_obs, wanted[number(obs)][2])


def test_split_rollout_takes_each_observations_newest_frame():
    t, n, stack = 3, 2, 2
    obs = torch.arange(t * n * H * W * stack).remainder(256).to(torch.uint8).reshape(t * n, H, W, stack)
    batch = {"obs": obs, "actions": torch.zeros(t * n, 2), "rewards": torch.arange(t * n, dtype=torch.float32),
             "terminals": torch.zeros(t * n), "ends": torch.zeros(t * n), "final_obs": torch.zeros_like(obs)}
    parts = split_rollout(batch, n, channels=1)
    assert parts["frames"].shape == (t, n, H, W, 1)
    assert np.array_equal(parts["frames"][1, 0], obs[n].numpy()[..., -1:])  # step 1, env 0: row t * n + env
    assert parts["rewards"][2, 1] == 5


def test_the_buffer_rebuilds_the_simulators_own_observations(one_torch_thread):
    """Real envs through the SAC collector: every observation and next observation the buffer rebuilds is the
    one the env gave (the car steers hard at full speed, so episodes end within the rollout)."""
    import gymnasium as gym

    from racekit.agent.policy import ActionSpec, ActorCritic
    from racekit.agent.rollout import RolloutCollector, make_env

    kwargs = {"camera_width": 48, "camera_height": 36, "frame_stack": 3, "info_params": False}
    envs = gym.vector.SyncVectorEnv([lambda i=i: make_env("oval", None, kwargs, i) for i in range(2)],
                                    autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    torch.manual_seed(0)
    model = ActorCritic((36, 48, 3), ActionSpec(low=(-30.0, 0.5), high=(30.0, 4.0)), distribution="squashed")
    with torch.no_grad():
        model.actor.bias.copy_(torch.tensor([3.0, 3.0]))
    cfg = SACConfig(envs=2, rollout_steps=40)
    collector = RolloutCollector(envs, model, cfg, seed=0)
    buffer = ReplayBuffer(10_000, 2, (36, 48, 1), 3)
    rollouts = []
    for _ in range(2):
        batch, _ = collector.collect()
        buffer.add(**split_rollout(batch, 2, channels=1))
        rollouts.append({k: v.reshape(40, 2, *v.shape[1:]).numpy().copy() for k, v in batch.items()})  # views
    envs.close()
    steps = {k: np.concatenate([r[k] for r in rollouts]) for k in rollouts[0]}
    assert steps["ends"].sum() >= 2
    for e in range(2):
        slot = 0
        for t in range(79):  # the last step's next observation is not in yet
            env, index = np.array([e]), np.array([slot])
            assert np.array_equal(buffer.stacked(env, index)[0], steps["obs"][t, e]), (e, t)
            following = steps["final_obs"][t, e] if steps["ends"][t, e] else steps["obs"][t + 1, e]
            assert np.array_equal(buffer.stacked(env, index + 1)[0], following), (e, t)
            assert buffer.terminals[e, slot] == bool(steps["terminals"][t, e])
            slot += 2 if steps["ends"][t, e] else 1


def test_the_default_buffer_fits_the_memory_it_is_given():
    frame = 80 * 60
    slot = frame + ReplayBuffer.SLOT_EXTRA_BYTES
    assert default_buffer_size(frame, memory_bytes=64 * 2**30) == int(1.5 * 2**30 // slot)
    small = default_buffer_size(frame, memory_bytes=2 * 2**30)  # a fifth of a small machine's memory
    assert small * (frame + ReplayBuffer.SLOT_EXTRA_BYTES) <= 0.2 * 2 * 2**30
    assert default_buffer_size(16, memory_bytes=64 * 2**30) == 1_000_000


def test_random_shift_is_pad_by_replication_then_crop():
    frames = torch.randint(0, 256, (8, 12, 10, 2), dtype=torch.uint8)
    assert torch.equal(random_shift(frames, 0), frames)
    shifted = random_shift(frames, 3, torch.Generator().manual_seed(0))
    assert shifted.shape == frames.shape and shifted.dtype == torch.uint8
    padded = torch.nn.functional.pad(frames.permute(0, 3, 1, 2).float(), (3, 3, 3, 3), mode="replicate")
    for i in range(8):  # each frame is one of the 49 crops of its padded self
        crops = [padded[i, :, y:y + 12, x:x + 10].permute(1, 2, 0) for y in range(7) for x in range(7)]
        assert any(torch.equal(shifted[i].float(), c) for c in crops)
    assert not all(torch.equal(shifted[i], frames[i]) for i in range(8))


# ---------------------------------------------------------------------------------------------------------------
# The networks and the losses


def tiny_agent(cfg: SACConfig | None = None):
    from racekit.agent.policy import ActionSpec, ActorCritic

    torch.manual_seed(0)
    cfg = cfg or SACConfig()
    policy = ActorCritic((36, 36, 2), ActionSpec(low=(-30.0, 0.5), high=(30.0, 4.0)), distribution="squashed")
    return SACAgent(policy, cfg), cfg


def tiny_batch(n=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {"obs": torch.randint(0, 256, (n, 36, 36, 2), dtype=torch.uint8, generator=g),
            "next_obs": torch.randint(0, 256, (n, 36, 36, 2), dtype=torch.uint8, generator=g),
            "actions": torch.rand((n, 2), generator=g) * 2 - 1, "rewards": torch.randn(n, generator=g),
            "terminals": (torch.rand(n, generator=g) < 0.5).float()}


def test_the_critic_target_is_the_soft_bellman_backup(one_torch_thread):
    agent, cfg = tiny_agent()
    batch = tiny_batch()
    torch.manual_seed(1)
    target = critic_target(agent, batch["rewards"], batch["terminals"], batch["next_obs"], 0.9)
    torch.manual_seed(1)  # the same next actions, by hand
    with torch.no_grad():
        action, log_prob = agent.sample(agent.critic.encode(batch["next_obs"]))
        q1, q2 = agent.critic_target(batch["next_obs"], action)
        by_hand = batch["rewards"] + 0.9 * (1 - batch["terminals"]) * (torch.min(q1, q2) - 0.2 * log_prob)
    assert torch.allclose(target, by_hand, atol=1e-5)
    ends = batch["terminals"] == 1
    assert torch.allclose(target[ends], batch["rewards"][ends])  # no bootstrap past the end of racing


def test_the_squashed_log_density_matches_the_policys(one_torch_thread):
    agent, _ = tiny_agent()
    frames = tiny_batch()["obs"]
    with torch.no_grad():
        action, log_prob = agent.sample(agent.critic.encode(frames))
        _, scored, _, _ = agent.policy.act(frames, action)  # ActorCritic's "squashed" log-density of that action
    assert torch.allclose(log_prob, scored, atol=2e-3)


def test_alpha_moves_toward_the_target_entropy(one_torch_thread):
    for log_std, direction in ((0.0, -1), (-4.0, +1)):  # wide policy: alpha falls; narrow: alpha rises
        agent, cfg = tiny_agent()
        with torch.no_grad():
            agent.policy.log_std.fill_(log_std)
        optimizers = make_optimizers(agent, cfg)
        optimizers["actor"].param_groups[0]["lr"] = 0.0  # the policy stays as it is
        for _ in range(3):
            stats = sac_update(agent, optimizers, tiny_batch(), cfg)
        assert np.sign(stats["alpha"] - cfg.initial_alpha) == direction, (log_std, stats)


def test_an_update_trains_the_encoder_only_through_the_critic(one_torch_thread):
    agent, cfg = tiny_agent()
    optimizers = make_optimizers(agent, cfg)
    encoder = {id(p) for p in agent.encoder.parameters()}
    assert encoder <= {id(p) for p in agent.critic_parameters()}
    assert not encoder & {id(p) for p in agent.actor_parameters()}
    assert agent.critic.encoder[0] is agent.policy.trunk[0]  # shared, not copied
    assert agent.critic_target.encoder[0] is not agent.policy.trunk[0]
    before = {k: v.clone() for k, v in agent.state_dict().items()}
    optimizers["critic"].param_groups[0]["lr"] = 0.0
    stats = sac_update(agent, optimizers, tiny_batch(), cfg)
    after = agent.state_dict()
    assert torch.equal(before["policy.trunk.0.weight"], after["policy.trunk.0.weight"])  # the actor left it
    assert not torch.equal(before["policy.actor.weight"], after["policy.actor.weight"])
    assert set(stats) == {"critic_loss", "actor_loss", "alpha_loss", "alpha", "entropy", "q_mean"}


def test_the_target_critic_follows_by_polyak_averaging(one_torch_thread):
    agent, cfg = tiny_agent(SACConfig(tau=0.1))
    optimizers = make_optimizers(agent, cfg)
    sac_update(agent, optimizers, tiny_batch(), cfg)
    before = {k: v.clone() for k, v in agent.state_dict().items()}
    sac_update(agent, optimizers, tiny_batch(seed=1), cfg)
    after = agent.state_dict()
    for name in ("q1.0.weight", "encoder.0.weight"):
        assert not torch.equal(before[f"critic.{name}"], after[f"critic.{name}"])
        want = 0.9 * before[f"critic_target.{name}"] + 0.1 * after[f"critic.{name}"]
        assert torch.allclose(after[f"critic_target.{name}"], want, atol=1e-6)


def test_the_sac_state_round_trips_without_the_policy(one_torch_thread):
    agent, cfg = tiny_agent()
    sac_update(agent, make_optimizers(agent, cfg), tiny_batch(), cfg)
    state = agent.sac_state()
    assert not any(k.startswith(("policy.", "encoder.", "dense.", "critic.encoder.")) for k in state)
    other, _ = tiny_agent()
    other.policy.load_state_dict(agent.policy.state_dict())
    other.load_sac_state(state)
    for k, v in agent.state_dict().items():
        assert torch.equal(v, other.state_dict()[k]), k


def test_deepracer_presets_end_in_deepracers_sac_head():
    from racekit.agent.deepracer.importer import SAC_HEAD as IMPORTED
    from racekit.agent.networks import NETWORKS

    assert SAC_HEAD == IMPORTED
    assert policy_network("racekit") == NETWORKS["racekit"]
    assert policy_network("deepracer-shallow").dense == NETWORKS["deepracer-shallow"].dense + SAC_HEAD


def test_a_sac_checkpoint_exports_tanh_of_the_mean(tmp_path, one_torch_thread):
    from racekit.agent.checkpoint import save_checkpoint
    from racekit.agent.export import distribution_of, load_policy_checkpoint
    from racekit.agent.train import RunConfig

    agent, _ = tiny_agent()
    with torch.no_grad():
        agent.policy.actor.bias.copy_(torch.tensor([0.8, -1.5]))
    cfg = RunConfig(algorithm="sac", camera_width=36, camera_height=36)
    path = tmp_path / "last.pt"
    save_checkpoint(path, {"model": agent.policy.state_dict(), "optimizer": {}, "global_step": 0,
                           "run": cfg.to_json(), "obs_shape": [36, 36, 2], "actions": cfg.action_spec().as_dict(),
                           "camera": cfg.camera(), "network": cfg.policy_network()})
    policy, state = load_policy_checkpoint(path)
    assert distribution_of(state) == "squashed" and policy.model.squashed
    frames = tiny_batch(4)["obs"]
    with torch.no_grad():
        mean = agent.policy.actor(agent.policy.features(frames))
        low, high = torch.tensor([-30.0, 0.5]), torch.tensor([30.0, 4.0])
        want = (high - low) / 2 * torch.tanh(mean) + (high + low) / 2
        assert torch.allclose(policy(frames), want, atol=1e-5)


# ---------------------------------------------------------------------------------------------------------------
# With a LIDAR beside the camera


def test_the_buffer_keeps_each_steps_lidar_scan_as_the_simulator_gave_it(one_torch_thread):
    """Real envs with a camera and a sector LIDAR through the SAC collector: the scan of every observation and
    next observation the buffer gives back is the env's."""
    import gymnasium as gym

    from racekit.agent.policy import ActionSpec, ActorCritic
    from racekit.agent.rollout import RolloutCollector, make_env

    kwargs = {"camera_width": 48, "camera_height": 36, "frame_stack": 2, "info_params": False,
              "sensors": ["front-camera", "sector-lidar"], "race_type": "object-avoidance", "num_objects": 4}
    envs = gym.vector.SyncVectorEnv([lambda i=i: make_env("oval", None, kwargs, i) for i in range(2)],
                                    autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    torch.manual_seed(0)
    model = ActorCritic((36, 48, 2), ActionSpec(low=(-30.0, 0.5), high=(30.0, 4.0)), distribution="squashed",
                        lidar_size=8)
    collector = RolloutCollector(envs, model, SACConfig(envs=2, rollout_steps=60), seed=0)
    buffer = ReplayBuffer(10_000, 2, (36, 48, 1), 2, lidar_size=8)
    batch, _ = collector.collect()
    envs.close()
    buffer.add(**split_rollout(batch, 2, channels=1))
    scans = batch["obs"]["sector-lidar"].reshape(60, 2, 8).numpy()
    finals = batch["final_obs"]["sector-lidar"].reshape(60, 2, 8).numpy()
    ends = batch["ends"].reshape(60, 2).numpy()
    assert scans.any()  # the boxes are seen
    for e in range(2):
        slot = 0
        for t in range(59):
            assert np.array_equal(buffer.lidar[e, slot], scans[t, e]), (e, t)
            following = finals[t, e] if ends[t, e] else scans[t + 1, e]
            assert np.array_equal(buffer.lidar[e, slot + 1], following), (e, t)
            slot += 2 if ends[t, e] else 1
    sample = buffer.sample(32)
    assert sample["lidar"].shape == sample["next_lidar"].shape == (32, 8)


def test_with_a_lidar_the_q_heads_read_the_scan_and_the_actor_trains_the_lidar_embedder(one_torch_thread):
    from racekit.agent.policy import ActionSpec, ActorCritic

    torch.manual_seed(0)
    cfg = SACConfig()
    policy = ActorCritic((36, 36, 2), ActionSpec(low=(-30.0, 0.5), high=(30.0, 4.0)), distribution="squashed",
                         lidar_size=8)
    agent = SACAgent(policy, cfg)
    g = torch.Generator().manual_seed(0)
    batch = {**tiny_batch(), "lidar": torch.rand((16, 8), generator=g), "next_lidar": torch.rand((16, 8), generator=g)}
    q_near, _ = agent.critic(batch["obs"], batch["actions"], torch.zeros(16, 8))
    q_far, _ = agent.critic(batch["obs"], batch["actions"], torch.ones(16, 8))
    assert not torch.allclose(q_near, q_far)  # the scan reaches the Q heads
    with torch.no_grad():  # the actor's mean is the policy's own, as it is exported
        features = agent.critic.encode(batch["obs"], batch["lidar"])
        assert torch.allclose(agent.mean(features), policy.actor(policy.joined(batch["obs"], batch["lidar"])),
                              atol=1e-6)
    before = {k: v.clone() for k, v in agent.state_dict().items()}
    stats = sac_update(agent, make_optimizers(agent, cfg), batch, cfg)
    after = agent.state_dict()
    assert not torch.equal(before["policy.lidar_trunk.0.weight"], after["policy.lidar_trunk.0.weight"])
    assert not torch.equal(before["critic.q1.0.weight"], after["critic.q1.0.weight"])
    assert np.isfinite(stats["critic_loss"]) and np.isfinite(stats["actor_loss"])
