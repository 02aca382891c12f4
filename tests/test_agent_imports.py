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
