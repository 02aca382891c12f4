"""Ray rollouts (agent/distributed.py) on a real multi-node Ray cluster on this machine: no mock of Ray.

A head and two worker nodes with one CPU each (ray.cluster_utils.Cluster), two rollout actors of one CPU
(one of them on a worker node: the head holds one CPU); once the first update is trained, the worker node
of an actor is removed in the middle of its rollout. The run must reach its step count with a valid
checkpoint, log the loss, and never train on a transition of the lost rollout.
"""
from __future__ import annotations

import csv
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from ray.cluster_utils import Cluster  # noqa: E402

from racekit.agent.checkpoint import load_checkpoint  # noqa: E402
from racekit.agent.distributed import NoRolloutWorkers, RayOptions  # noqa: E402
from racekit.agent.ppo import PPOConfig  # noqa: E402
from racekit.agent.train import RunConfig, train  # noqa: E402

ROLLOUT = 128
STEPS = 1024  # 4 updates of 2 actors x 128 steps; more when an update loses a rollout


def records(run: Path) -> list[dict]:
    path = run / "distributed.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


@pytest.mark.timeout(240)
def test_training_survives_losing_a_worker_node(tmp_path):
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    workers = [cluster.add_node(num_cpus=1) for _ in range(2)]
    run = tmp_path / "run"
    removed = {}
    try:
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, include_dashboard=False, log_to_driver=False, logging_level="warning")

        def remove_a_node():
            # once the second update's rollouts are under way: remove the worker node of an actor
            deadline = time.monotonic() + 150
            while time.monotonic() < deadline:
                log = records(run)
                nodes = {r["actor"]: r["node"] for r in log if r["event"] == "actor_ready"}
                if any(r["event"] == "rollouts" and r["update"] == 1 for r in log):
                    for node in workers:
                        if node.node_id in nodes.values():
                            time.sleep(0.4)  # into the rollout (128 steps of 10 ms and more)
                            removed["node"] = node.node_id
                            cluster.remove_node(node)
                            return
                    return
                time.sleep(0.05)

        remover = threading.Thread(target=remove_a_node, daemon=True)
        remover.start()
        cfg = RunConfig(steps=STEPS, eval_every=10**9, eval_laps=1,
                        ppo=PPOConfig(envs=2, rollout_steps=ROLLOUT, minibatch=128, epochs=1))
        summary = train(run, cfg, quiet=True, ray=RayOptions(address=cluster.address, actors=2,
                                                             placement_timeout=60,
                                                             debug_step_delay=0.01))
        remover.join(timeout=10)
    finally:
        ray.shutdown()
        cluster.shutdown()

    assert removed, "no actor was on a worker node to remove"
    assert summary["outcome"] == "done" and summary["global_step"] >= STEPS
    state = load_checkpoint(run / "checkpoints" / "last.pt")
    assert state["global_step"] == summary["global_step"]

    log = records(run)
    lost = {tuple(x) for u in log if u["event"] == "update" for x in u["lost"]}  # (actor, rollout id)
    lost_events = [r for r in log if r["event"] == "actor_lost"]
    assert lost_events and lost, "the node's loss was not seen"
    trained = [tuple(x[:2]) for u in log if u["event"] == "update" for x in u["trained"]]
    # every trained rollout is whole (its transition count from the tags of the batch itself) ...
    assert all(x[2] == ROLLOUT for u in log if u["event"] == "update" for x in u["trained"])
    # ... trained once, and none is a rollout that was lost
    assert len(trained) == len(set(trained))
    assert not lost & set(trained)
    # the steps counted are the transitions trained on
    assert sum(u["transitions"] for u in log if u["event"] == "update") == summary["global_step"]
    # the lost actor was re-created and trained again after the loss
    replaced = lost_events[0]["actor"]
    after = [u for u in log if u["event"] == "update" and u["update"] > lost_events[0]["update"]]
    assert any(x[0] == replaced for u in after for x in u["trained"])
    placed = [r for r in log if r["event"] == "actor_ready" and r["time"] > lost_events[0]["time"]]
    assert placed and placed[0]["actor"] == replaced and placed[0]["node"] != removed["node"]
    # the sim-trace holds every trained step once, and none of the lost rollout's
    rows = trace_rows(run)
    steps = [(r["episode"], r["steps"]) for r in rows]
    assert sum(r["episode_status"] != "prepare" for r in rows) == summary["global_step"]
    assert len(steps) == len(set(steps))


def trace_rows(run: Path) -> list[dict]:
    rows = []
    for path in sorted((run / "training-simtrace").glob("*-iteration.csv")):
        with path.open(newline="") as f:
            rows += list(csv.DictReader(f))
    return rows


@pytest.mark.timeout(180)
def test_ray_actors_drive_each_envs_own_tracks_randomised_and_write_the_sim_trace(tmp_path):
    """... with DeepRacer Evo's sensors: each step's observation a dict of the stereo pair and the LIDAR."""
    run = tmp_path / "run"
    cfg = RunConfig(tracks=["oval", "piccolo"], track="oval", track_episodes=1, randomize="default", steps=512,
                    eval_every=10**9, eval_laps=1, camera_width=48, camera_height=36, frame_stack=1,
                    sensors=["stereo-cameras", "lidar"], ppo=PPOConfig(envs=2, rollout_steps=128, minibatch=128,
                                                                       epochs=1))
    summary = train(run, cfg, quiet=True, ray=RayOptions(address="local", actors=2))
    assert summary["outcome"] == "done"
    state = load_checkpoint(run / "checkpoints" / "last.pt")
    assert state["camera"]["sensors"] == ["stereo-cameras", "lidar"] and state["lidar_size"] == 64
    with open(run / "episodes.csv", newline="") as f:
        episodes = list(csv.DictReader(f))
    by_env = {env: [e["track"] for e in episodes if e["env"] == env] for env in ("0", "1")}
    assert by_env["0"][0] == "oval" and by_env["1"][0] == "piccolo"  # each env's own schedule, in its actor
    assert all(set(tracks) == {"oval", "piccolo"} for tracks in by_env.values()), by_env
    rows = trace_rows(run)
    assert sum(r["episode_status"] != "prepare" for r in rows) == summary["global_step"]


def test_ray_flag_without_ray_says_how_to_install(tmp_path):
    code = ("import sys; sys.modules['ray'] = None\n"
            "from racekit.cli import main\n"
            f"sys.exit(main(['train', '--out', {str(tmp_path / 'run')!r}, '--ray', '--steps', '64']))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines[-1].endswith("pip install racekit[ray]"), result.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.timeout(180)
def test_no_node_left_stops_with_the_checkpoint_kept(tmp_path):
    # a head without CPUs and one worker node: once that node is gone no actor can be placed anywhere
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
    worker = cluster.add_node(num_cpus=1)
    run = tmp_path / "run"
    try:
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, include_dashboard=False, log_to_driver=False, logging_level="warning")

        def remove_the_node():
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                if any(r["event"] == "rollouts" and r["update"] == 1 for r in records(run)):
                    time.sleep(0.3)
                    options.placement_timeout = 5  # no node left: 5 s shows that none can be placed
                    cluster.remove_node(worker)
                    return
                time.sleep(0.05)

        # 30 s at first: in a full parallel test run the first actor alone once took over 15 s to be placed
        options = RayOptions(address=cluster.address, actors=1, placement_timeout=30, debug_step_delay=0.01)
        remover = threading.Thread(target=remove_the_node, daemon=True)
        remover.start()
        cfg = RunConfig(steps=10_000, eval_every=10**9, eval_laps=1, simtrace=False,
                        ppo=PPOConfig(envs=1, rollout_steps=ROLLOUT, minibatch=128, epochs=1))
        with pytest.raises(NoRolloutWorkers, match="no rollout actor could be placed for 5 s.*--resume"):
            train(run, cfg, quiet=True, ray=options)
        remover.join(timeout=10)
    finally:
        ray.shutdown()
        cluster.shutdown()
    state = load_checkpoint(run / "checkpoints" / "last.pt")
    trained = [u for u in records(run) if u["event"] == "update"]
    assert state["global_step"] == sum(u["transitions"] for u in trained) >= ROLLOUT
