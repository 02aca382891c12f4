"""Where does a head-to-bot model crash? Each crash of its races, with the bot it met.

Races MODEL (racekit's or DeepRacer's model file) --races times head-to-bot, 3 laps under race rules, bots
placed by seeds --first-seed, --first-seed + 1, ... (100 and up: the placements bench/object_avoidance.py
races, none of which its evaluations meet), and prints for each crash the car's offset from the centre line
(+ left), speed and steering, the nearest bot's gap along the track (its centre ahead of the car's: +) and
lane, and the car's offsets over the steps before. Then the crashes per lap driven (as the bench counts them)
and how many crashes met a bot beside the car (centre gap under a car's length, 0.32 m) and how many one
farther along.

    .venv/bin/python bench/head_to_bot_crashes.py MODEL [--races 50] [--first-seed 100]
"""
from __future__ import annotations

import argparse
from collections import deque

from racekit.racing import Rules, check_model, race
from racekit.sim.objects import BOT_SIZE
from racekit.tracks import DEFAULT_TRACK, load_track

HISTORY = 8  # control steps of the car's offset printed before each crash


def offset(params: dict) -> float:
    return params["distance_from_center"] * (1 if params["is_left_of_center"] else -1)


def nearest_bot(params: dict) -> tuple[float, str]:
    """The gap along the track to the nearest bot (+: its centre ahead of the car's) and its lane."""
    here, length = params["projection_distance"], params["track_length"]
    gaps = [(s - here + length / 2) % length - length / 2 for s in params["objects_distance"]]
    i = min(range(len(gaps)), key=lambda k: abs(gaps[k]))
    return gaps[i], "left" if params["objects_left_of_center"][i] else "right"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--races", type=int, default=50)
    parser.add_argument("--first-seed", type=int, default=100)
    args = parser.parse_args()
    entrant, track = check_model(args.model), load_track(DEFAULT_TRACK)
    gaps = []  # each crash's gap to the bot it met
    laps, dnfs = 0.0, 0  # laps driven (Outcome.laps_driven), as the bench counts them
    for seed in range(args.first_seed, args.first_seed + args.races):
        offsets = deque(maxlen=HISTORY)

        def on_step(env, obs, info, events):
            params = info["params"]
            offsets.append(offset(params))
            for event in events:
                if event["kind"] != "crash":
                    continue
                gap, lane = nearest_bot(params)
                gaps.append(gap)
                print(f"race seed {seed}, lap {event['lap']}: car at {offset(params):+.2f} m, "
                      f"{params['speed']:.1f} m/s, steering {params['steering_angle']:+.0f} deg; bot {gap:+.2f} m "
                      f"along, {lane} lane; car's offsets before: {' '.join(f'{o:+.2f}' for o in offsets)}",
                      flush=True)

        outcome = race(entrant, track, Rules(race_type="head-to-bot", laps=3, seed=seed), on_step=on_step)
        laps += outcome.laps_driven
        dnfs += outcome.dnf
    beside = sum(abs(gap) < BOT_SIZE[0] for gap in gaps)
    print(f"{len(gaps)} crashes in {laps:g} laps driven in {args.races} races ({len(gaps) / max(laps, 1e-9):.3f} "
          f"per lap), {dnfs} DNF: {beside} with a bot beside the car "
          f"(centre gap under {BOT_SIZE[0]} m), {len(gaps) - beside} with one farther along")


if __name__ == "__main__":
    main()
