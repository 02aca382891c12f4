"""Which track, and which way round, each training episode drives: multi-track and generated-track training.

A run trains on a list of tracks (`RunConfig.tracks`; one track is a list of one). Env process i starts
on entry i mod len(list), and every `episodes_per_track` episodes moves on to the next entry, so the envs
hold different tracks at any moment and each one rotates through the whole list. The entry "generated"
is a fresh generated track each time an env comes to it (tracks/generate.py), its seed derived from (the
run's seed, the env's index, how many generated tracks that env has drawn before): the sequence is a
pure function of the run's seed and each env's episode count, so a resumed run, which keeps the per-env
episode counts in its checkpoint, goes on with the very same tracks. Training's generated seeds are
GENERATED_SEED_BASE and above; a smaller seed (generated:7) is a track training never draws.

With `alternate_direction` (DeepRacer's), every other episode of each env runs the track reversed (env i
starts reversed when i is odd, so half the envs drive each way at any moment).

`TrackRotation` is the env that follows the schedule: it holds a `TimeTrialEnv` for the current track
(one per direction, built when first needed; a new track closes them and builds new ones: the World is
made for one track) and switches between them at reset. Its spaces are those of every track's env.
"""
from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np

GENERATED = "generated"
GENERATED_SEED_BASE = 1_000_000
GENERATED_SEED_SPAN = 1_000_000_000
RACE_KEYS = ("race_type", "num_objects", "object_positions", "num_bots", "bot_speed", "bot_lane_changes")
MAX_DRAWS = 20  # seeds tried for one generated track (a seed whose loop fails, or whose lap is too short)


def home_track(tracks: list[str], default: str) -> str:
    """The track a run on `tracks` calls its own: the first named one; `default` if it names none (only
    generated tracks). Evaluations, races and the robustness suite start from it."""
    return next((t for t in tracks if t and t != GENERATED), default)


def generated_seed(run_seed: int, env: int, k: int, attempt: int = 0) -> int:
    """The seed of env `env`'s k-th generated track (attempt > 0: the draws after a seed that did not fit)."""
    entropy = [int(run_seed) % 2**32, int(env), int(k)] + ([int(attempt)] if attempt else [])
    value = int(np.random.SeedSequence(entropy).generate_state(1, np.uint64)[0])
    return GENERATED_SEED_BASE + value % GENERATED_SEED_SPAN


def track_fits(track, race: dict) -> bool:
    """Whether the race type's objects fit the lap (`race`: the env's race_type/num_objects/num_bots...)."""
    if race.get("race_type", "time-trial") == "time-trial":
        return True
    from racekit.sim.objects import ObjectOptions

    options = {k: race[k] for k in RACE_KEYS if k in race}
    try:
        ObjectOptions(**options).check_fits(track)
    except ValueError:
        return False
    return True


def draw_generated(run_seed: int, env: int, k: int, race: dict | None = None):
    """(name, Track) of env `env`'s k-th generated track: the first derived seed that makes a valid loop
    the race type's objects fit on."""
    from racekit.tracks import TrackError, load_track

    last = None
    for attempt in range(MAX_DRAWS):
        name = f"generated:{generated_seed(run_seed, env, k, attempt)}"
        try:
            track = load_track(name)
        except TrackError as exc:
            last = str(exc)
            continue
        if track_fits(track, race or {}):
            return name, track
        last = f"{name}: the race type's objects do not fit its {track.length:.1f} m lap"
    raise ValueError(f"no generated track for env {env} after {MAX_DRAWS} seeds (the last: {last})")


@dataclass(frozen=True)
class TrackSchedule:
    """The per-env, per-episode track plan of a run (see the module docstring)."""

    tracks: tuple[str, ...]
    episodes_per_track: int = 20
    alternate_direction: bool = False
    seed: int = 0

    def __post_init__(self):
        object.__setattr__(self, "tracks", tuple(self.tracks))
        if not self.tracks:
            raise ValueError("a schedule needs at least one track")
        if self.episodes_per_track < 1:
            raise ValueError(f"episodes_per_track must be at least 1, got {self.episodes_per_track}")

    def entry(self, env: int, episode: int) -> tuple[str, int | None]:
        """(list entry, k) for env `env`'s episode `episode` (0-based); k counts that env's generated
        tracks before this one (None for a named track)."""
        n = len(self.tracks)
        block = episode // self.episodes_per_track
        name = self.tracks[(env + block) % n]
        if name != GENERATED:
            return name, None
        per_cycle = self.tracks.count(GENERATED)
        k = (block // n) * per_cycle + sum(self.tracks[(env + j) % n] == GENERATED for j in range(block % n))
        return name, k

    def reversed(self, env: int, episode: int) -> bool:
        return self.alternate_direction and (episode + env) % 2 == 1

    def track_name(self, env: int, episode: int, race: dict | None = None) -> str:
        """What load_track takes for that episode's track (a generated one is drawn here: some ms)."""
        name, k = self.entry(env, episode)
        return name if k is None else draw_generated(self.seed, env, k, race)[0]


class TrackRotation(gym.Env):
    """One training env that follows a TrackSchedule: env `index`, its episodes counted from `start_episode`.

    Every reset and step info carries "track" (what load_track takes) and "reversed".
    """

    def __init__(self, schedule: TrackSchedule, index: int = 0, start_episode: int = 0, reward=None,
                 env_kwargs: dict | None = None):
        self.schedule, self.index = schedule, index
        self.reward, self.env_kwargs = reward, dict(env_kwargs or {})
        self.race = {k: v for k, v in self.env_kwargs.items() if k in RACE_KEYS}
        self.episode = start_episode - 1  # the running episode; reset() moves on to the next
        self._envs: dict[tuple[str, bool], object] = {}  # the current track's envs, one per direction
        self._unseeded: set = set()
        self._generated: dict[int, tuple[str, object]] = {}
        self.env = self._env_for(*self._slot(start_episode))
        self.observation_space, self.action_space = self.env.observation_space, self.env.action_space
        self.metadata = self.env.metadata
        self.render_mode = self.env.render_mode

    def _slot(self, episode: int) -> tuple[str, bool, object]:
        name, k = self.schedule.entry(self.index, episode)
        reverse = self.schedule.reversed(self.index, episode)
        if k is None:
            return name, reverse, name
        if k not in self._generated:
            self._generated = {k: draw_generated(self.schedule.seed, self.index, k, self.race)}
        name, track = self._generated[k]
        return name, reverse, track

    def _env_for(self, name: str, reverse: bool, track):
        key = (name, reverse)
        if key not in self._envs:
            from racekit.sim.env import TimeTrialEnv

            if any(other != name for other, _ in self._envs):  # a new track: the old one's Worlds go
                for env in self._envs.values():
                    env.close()
                self._envs.clear()
            self._envs[key] = TimeTrialEnv(track=track, reward_function=self.reward, reverse=reverse,
                                           **self.env_kwargs)
            self._unseeded.add(key)
        return self._envs[key]

    def _info(self, info: dict) -> dict:
        info["track"], info["reversed"] = self.track, self.is_reversed
        return info

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if seed is not None:
            self._unseeded = set(self._envs)  # a seed starts every env's randomness over
        self.episode += 1
        name, reverse, track = self._slot(self.episode)
        self.env = self._env_for(name, reverse, track)
        self.track, self.is_reversed = name, reverse
        env_seed = None
        if (name, reverse) in self._unseeded:
            self._unseeded.discard((name, reverse))
            # the env reset with the seed itself (as a lone TimeTrialEnv would be), the others from it
            env_seed = seed if seed is not None else int(self.np_random.integers(2**31))
        obs, info = self.env.reset(seed=env_seed, options=options)
        return obs, self._info(info)

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, reward, terminated, truncated, self._info(info)

    def render(self):
        return self.env.render()

    def close(self):
        for env in self._envs.values():
            env.close()
        self._envs.clear()
