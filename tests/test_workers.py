"""Rollout worker processes (agent/workers.py): what they send back is what the collector makes in-process."""
import os
import signal

import pytest
import torch

from racekit.agent.policy import ActorCritic
from racekit.agent.ppo import PPOConfig
from racekit.agent.train import RunConfig, RunError
from racekit.agent.workers import RolloutWorker, WorkerRollouts, stack_rollouts
from racekit.tracks.track import TrackError

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny(envs: int = 2) -> RunConfig:
    return RunConfig(track="oval", camera_width=48, camera_height=36, frame_stack=1,
                     ppo=PPOConfig(envs=envs, rollout_steps=24, minibatch=16, epochs=1))


def weights_of(model) -> dict:
    return {k: v.detach().numpy() for k, v in model.state_dict().items()}


def test_the_workers_batch_is_the_in_process_collectors_side_by_side():
    cfg = tiny()
    rollouts = WorkerRollouts(cfg, [0, 0], cfg.action_spec(), seed=5, envs_per_worker=1)
    try:
        model = ActorCritic(rollouts.single_observation_space.shape, cfg.action_spec(),
                            distribution=cfg.distribution())
        batch, stats = rollouts.bind(model).collect()
    finally:
        rollouts.close()
    # the same two workers, in this process: env i with the seed it gets in a run, the same weights
    local = []
    for i in (0, 1):
        worker = RolloutWorker(i, [i], cfg.track, cfg.reward, cfg.env_kwargs(), cfg.schedule(), [0],
                               cfg.action_spec(), None, cfg.ppo, seed=5 + i)
        local.append(worker.rollout(weights_of(model)))
        worker.close()
    expected, expected_stats = stack_rollouts(local)
    assert batch.keys() == expected.keys() and len(batch["obs"]) == 2 * 24
    for key in batch:
        assert torch.equal(batch[key], expected[key]), key
    assert stats.returns == expected_stats.returns and stats.records == expected_stats.records
    # rows are (step, env) as the trainer flattens them: row 2t + i is env i at step t
    assert torch.equal(batch["obs"][1::2], torch.from_numpy(local[1]["batch"]["obs"][:, 0]))
    assert not torch.equal(batch["obs"][0::2], batch["obs"][1::2])  # two envs, two starts


def test_the_same_seed_repeats_a_rollout_and_another_seed_does_not():
    cfg = tiny()
    model = None
    batches = []
    for seed in (3, 3, 4):
        rollouts = WorkerRollouts(cfg, [0, 0], cfg.action_spec(), seed=seed)
        try:
            if model is None:
                model = ActorCritic(rollouts.single_observation_space.shape, cfg.action_spec(),
                                    distribution=cfg.distribution())
            batches.append(rollouts.bind(model).collect()[0])
        finally:
            rollouts.close()
    assert all(torch.equal(batches[0][k], batches[1][k]) for k in batches[0])
    assert not torch.equal(batches[0]["actions"], batches[2]["actions"])


def test_a_worker_that_dies_is_one_clear_error_and_the_others_are_stopped():
    cfg = tiny()
    rollouts = WorkerRollouts(cfg, [0, 0], cfg.action_spec(), seed=0, envs_per_worker=1)
    processes = list(rollouts.processes)
    try:
        model = ActorCritic(rollouts.single_observation_space.shape, cfg.action_spec(),
                            distribution=cfg.distribution())
        rollouts.bind(model)
        os.kill(processes[1].pid, signal.SIGKILL)
        with pytest.raises(RunError, match=r"^rollout worker 1 \(envs \[1\]\) died \(exit code -9\)$"):
            rollouts.collect()
    finally:
        rollouts.close(terminate=True)
    assert not any(p.is_alive() for p in processes)


def test_an_env_that_cannot_be_built_raises_its_own_error():
    cfg = tiny()
    cfg.track = "no-such-track"
    with pytest.raises(TrackError, match="^unknown track 'no-such-track': built-in tracks are "):
        WorkerRollouts(cfg, [0, 0], cfg.action_spec(), seed=0)
