"""agent/ imports only downward (racekit.sim, racekit.tracks): never the command line nor racekit.hardware (the car)."""
import ast
from pathlib import Path

AGENT = Path(__file__).resolve().parents[1] / "agent"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_agent_never_imports_racekit_or_hardware():
    offenders = {f"{path.name}: {name}" for path in sorted(AGENT.glob("*.py")) for name in imported_modules(path)
                 if name.startswith("racekit") and name.split(".")[:2] not in (["racekit", "sim"], ["racekit", "tracks"],
                                                                              ["racekit", "agent"])}
    assert not offenders


def test_rollout_modules_do_not_import_the_trainer():
    """train.py imports workers.py and distributed.py, so they take RunError from errors.py, never from train.py."""
    for name in ("workers.py", "distributed.py", "errors.py"):
        assert "racekit.agent.train" not in imported_modules(AGENT / name), name
    assert imported_modules(AGENT / "errors.py") == set()  # imports nothing: anyone can raise a RunError


def test_run_error_is_one_class_wherever_it_is_imported_from():
    from racekit.agent import distributed, errors, train, workers

    assert train.RunError is workers.RunError is distributed.RunError is errors.RunError
    assert issubclass(distributed.NoRolloutWorkers, errors.RunError)
