"""A run says whether it is a typical one of its recipe or an unlucky draw (racekit/recipes.py)."""
from racekit.cli import build_parser
from racekit.cli.train import new_run_config
from racekit.recipes import MEASURED, comparison, recipe_of

ROBUST = ["--track", "generated", "--randomize", "--alternate-direction", "--bootstrap-at-finish"]
FORMER = ["--learning-rate", "3e-4", "--discount", "0.99", "--minibatch", "256", "--entropy", "0.01"]


def config(*flags) -> dict:
    line = ["train", "--out", "unused", "--reward", "examples/rewards/speed_along_track.py", "--minutes", "10", *flags]
    return new_run_config(build_parser().parse_args(line)).to_json()


def test_a_run_is_matched_to_the_recipe_its_flags_make():
    assert recipe_of(config(*ROBUST, "--distribution", "gaussian", *FORMER)) == "robust"
    assert recipe_of(config(*ROBUST, "--distribution", "beta", *FORMER)) == "robust-beta"
    assert recipe_of(config(*ROBUST)) == "robust-defaults"  # the recipe for a car: the robust flags, today's defaults
    assert recipe_of(config(*ROBUST, "--distribution", "beta")) == "robust-defaults"
    assert recipe_of(config(*ROBUST, "--distribution", "gaussian")) is None  # not measured
    assert recipe_of(config(*ROBUST, "--learning-rate", "1e-4")) is None
    assert recipe_of(config(*ROBUST, "--randomize", "strong", *FORMER)) is None  # another recipe, not measured
    assert recipe_of(config()) == "plain"  # racekit train's defaults on piccolo
    assert recipe_of(config("--distribution", "beta")) == "plain"  # the default, named
    assert recipe_of(config("--distribution", "gaussian", *FORMER)) == "plain-gaussian"  # the former defaults
    assert recipe_of(config("--distribution", "gaussian")) is None  # neither
    assert recipe_of(config("--learning-rate", "1e-4")) is None
    assert recipe_of(config("--track", "generated")) is None
    assert recipe_of(config("--sensor", "front-camera", "--sensor", "lidar")) is None


def test_the_first_clean_evaluation_is_set_beside_the_recipes_seeds():
    run = config(*ROBUST, "--distribution", "beta", *FORMER)
    measured = MEASURED["robust-beta"]
    slowest = max(m for m in measured.first_clean_minutes if m is not None)
    early = [{"all_clean": False, "wall_seconds": 30.0}, {"all_clean": True, "wall_seconds": 60.0 * slowest}]
    line = comparison(run, early, minutes_trained=10)
    assert line.startswith(f"the robust-beta recipe's seeds ({measured.minutes:g} min each) first drove every lap clean after ")
    assert f"this run after {slowest:.1f} min: within what the recipe usually reaches" in line
    never = [{"all_clean": False, "wall_seconds": 60.0 * m} for m in (1, 5, 10)]
    assert comparison(run, never, minutes_trained=10).endswith("not in 10.0 min: an unlucky run: train another seed")
    assert comparison(run, never[:1], minutes_trained=1).endswith(f"not yet: its seeds needed up to {slowest:g} min")
    assert comparison(config("--track", "oval"), early, minutes_trained=10) is None


def test_a_sac_run_of_the_plain_recipe_is_set_beside_the_sac_seeds():
    assert recipe_of(config("--algorithm", "sac")) == "sac"
    assert recipe_of(config("--algorithm", "sac", "--track", "oval")) is None
    line = comparison(config("--algorithm", "sac"), [{"all_clean": True, "wall_seconds": 600.0}], minutes_trained=30)
    assert line.startswith("the sac recipe's seeds (30 min each) first drove every lap clean after 10.2, 15.2, 21.9")
