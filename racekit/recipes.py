"""What a training recipe usually reaches, so that a run can say whether it is a typical one or an unlucky draw.

The figures are bench/recipes.py's rows (bench/results/recipes.jsonl): each recipe trained with seeds 0, 1
and 2 on this project's 2-core development machine, alone. A run is matched to a recipe by its config
(the tracks, directions, randomisation and PPO settings the recipe's flags set); its first evaluation with
every lap clean is set beside the recipe's seeds. A run that matches no measured recipe gets no comparison.
"""
from __future__ import annotations

from dataclasses import dataclass

# agent/ppo.py's FORMER as racekit train's flags (bench/recipes.py and bench/robustness.py train with them too)
FORMER_FLAGS = ("--learning-rate", "3e-4", "--discount", "0.99", "--minibatch", "256", "--entropy", "0.01")
# the robust recipe's own flags: many generated tracks, both directions, randomised, returns past the finish
ROBUST_FLAGS = ("--track", "generated", "--randomize", "--alternate-direction", "--bootstrap-at-finish")
_FORMER, _ROBUST = " ".join(FORMER_FLAGS), " ".join(ROBUST_FLAGS)  # as Measured.flags writes them


@dataclass(frozen=True)
class Measured:
    """One recipe's seeds, as bench/recipes.py measured them."""

    flags: str  # racekit train's flags beside --reward examples/rewards/speed_along_track.py
    minutes: float  # each seed's training time
    first_clean_minutes: tuple  # per seed: minutes to the first evaluation with every lap clean (None: never)


# bench/recipes.py, seeds 0, 1, 2 (docs/performance.md, "Training recipes over seeds"): robust at 10 minutes
# (--screen), the others at 30. "plain" is racekit train's defaults on piccolo, "robust-defaults" the robust
# flags with them; the recipes measured before those defaults (agent/ppo.py's FORMER) name that they trained
# with the former PPO settings.
MEASURED: dict[str, Measured] = {
    "plain": Measured("", 30.0, (0.8, 0.7, 0.7)),  # each first clean at its first evaluation
    "plain-gaussian": Measured(f"--distribution gaussian {_FORMER}", 30.0, (0.6, 1.4, 2.4)),
    "robust": Measured(f"{_ROBUST} --distribution gaussian {_FORMER}", 10.0, (3.3, None, None)),
    "sac": Measured("--algorithm sac", 30.0, (10.2, 15.2, 21.9)),  # each first clean at its first evaluation
    "robust-beta": Measured(f"{_ROBUST} --distribution beta {_FORMER}", 30.0, (4.3, 9.4, 4.6)),
    "robust-defaults": Measured(_ROBUST, 30.0, (4.7, 2.6, 5.9)),  # the recipe for a car: the robust flags alone
}


def ppo_settings(ppo: dict) -> str | None:
    """"defaults" if a run's PPO settings are racekit train's defaults, "former" if they are the defaults
    before them (with either distribution: the name says which), else None."""
    from racekit.agent.ppo import FORMER, PPOConfig

    keys = ("learning_rate", "gamma", "minibatch", "entropy")
    if all(ppo.get(k, getattr(PPOConfig, k)) == getattr(PPOConfig, k) for k in keys):
        return "defaults"
    if all(ppo.get(k) == FORMER[k] for k in keys):
        return "former"
    return None


def recipe_of(run: dict) -> str | None:
    """The measured recipe a run's config (config.json's "run") was trained with, or None."""
    ppo = run.get("ppo") or {}
    distribution, settings = ppo.get("distribution", "gaussian"), ppo_settings(ppo)
    robust = (run.get("algorithm", "ppo") == "ppo"  # every measured recipe but sac is PPO's
              and run.get("tracks") == ["generated"] and run.get("alternate_direction")
              and run.get("randomize") == "default"
              and ppo.get("bootstrap_at_finish") and run.get("race_type", "time-trial") == "time-trial"
              and run.get("actions") is None)
    if robust:
        name = {("former", "beta"): "robust-beta", ("former", "gaussian"): "robust",
                ("defaults", "beta"): "robust-defaults"}.get((settings, distribution))
        return name if name in MEASURED else None
    algorithm = run.get("algorithm", "ppo")
    plain = (algorithm in ("ppo", "sac") and not run.get("tracks") and run.get("track") == "piccolo"
             and not run.get("alternate_direction") and run.get("randomize") is None
             and not ppo.get("bootstrap_at_finish")
             and run.get("race_type", "time-trial") == "time-trial" and run.get("actions") is None
             and run.get("from_model") is None and run.get("network", "racekit") == "racekit"
             and list(run.get("sensors") or ["front-camera"]) == ["front-camera"])
    if not plain:
        return None
    if algorithm == "sac":  # the "sac" recipe is the plain one with --algorithm sac
        name = "sac"
    elif settings == "defaults" and distribution == "beta":
        name = "plain"
    elif settings == "former" and distribution == "gaussian":
        name = "plain-gaussian"
    else:
        return None
    return name if name in MEASURED else None


def comparison(run: dict, evaluations: list[dict], minutes_trained: float) -> str | None:
    """A line setting the run's first clean evaluation beside its recipe's seeds, or None (no such recipe)."""
    name = recipe_of(run)
    if name is None:
        return None
    measured = MEASURED[name]
    seeds = ", ".join("never" if m is None else f"{m:g}" for m in measured.first_clean_minutes)
    within = [m for m in measured.first_clean_minutes if m is not None]
    slowest = max(within) if within else measured.minutes
    clean = next((e for e in evaluations if e["all_clean"]), None)
    if clean is not None:
        mine = clean["wall_seconds"] / 60
        verdict = ("within what the recipe usually reaches" if mine <= 1.5 * slowest
                   else "later than the recipe's seeds: a slow draw")
        at = f"after {mine:.1f} min"
    elif minutes_trained < slowest:
        verdict, at = f"not yet: its seeds needed up to {slowest:g} min", "not yet"
    else:
        verdict, at = "an unlucky run: train another seed", f"not in {minutes_trained:.1f} min"
    return (f"the {name} recipe's seeds ({measured.minutes:g} min each) first drove every lap clean after {seeds} "
            f"min; this run {at}: {verdict}")
