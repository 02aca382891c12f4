"""The import direction of DESIGN.md, over every module of the project, and no import circle anywhere.

    command line (racekit.cli) -> racekit's library -> agent -> sim -> tracks;   racekit's library -> hardware

Every import counts, at the top of a module or inside a function: a late import still ties the two
modules together.
"""
import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FOLDERS = {"racekit": "racekit", "tracks": "racekit.tracks", "sim": "racekit.sim", "agent": "racekit.agent",
           "hardware": "racekit.hardware"}

# Each layer and the layers its modules may import (their own included).
LAYERS = {
    "tracks": {"tracks"},
    "sim": {"sim", "tracks"},
    "agent": {"agent", "sim", "tracks"},
    "hardware": {"hardware"},
    "library": {"library", "agent", "sim", "tracks", "hardware"},
    "cli": {"cli", "library", "agent", "sim", "tracks", "hardware"},
}


def layer(module: str) -> str:
    if module == "racekit.__main__":
        return "cli"  # python -m racekit
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in ("tracks", "sim", "agent", "hardware", "cli"):
        return parts[1]
    return "library"  # racekit itself and racekit.* outside those: racing, leaderboard, analyze, ...


def project_modules() -> dict[str, Path]:
    modules = {}
    for folder, package in FOLDERS.items():
        for path in (REPO / folder).rglob("*.py"):
            parts = list(path.relative_to(REPO / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            modules[".".join([package, *parts])] = path
    return modules


def imports_of(module: str, source: str, is_package: bool, known: set[str]) -> set[str]:
    """The project modules `source` imports (`from a.b import c` is a.b.c when that is a module)."""
    def known_prefix(name: str) -> str | None:
        while name and name not in known:
            name = name.rpartition(".")[0]
        return name or None

    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                here = module.split(".") if is_package else module.split(".")[:-1]
                base = ".".join(here[:len(here) - node.level + 1] + ([node.module] if node.module else []))
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        found.update(m for m in map(known_prefix, names) if m and m != module)
    return found


def import_graph(sources: dict[str, tuple[str, bool]]) -> dict[str, set[str]]:
    known = set(sources)
    return {m: imports_of(m, src, pkg, known) for m, (src, pkg) in sources.items()}


def wrong_way(graph: dict[str, set[str]]) -> list[str]:
    """Imports against LAYERS. A package's __init__ importing its parent package is no import of a layer."""
    return sorted(f"{m} ({layer(m)}) imports {d} ({layer(d)})" for m, deps in graph.items() for d in deps
                  if layer(d) not in LAYERS[layer(m)] and not m.startswith(d + "."))


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Groups of modules that import each other, directly or round a longer loop (Tarjan's algorithm)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w.startswith(v + ".") or v.startswith(w + "."):
                continue  # a package and its own modules: importing a module runs its package first anyway
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def project_graph() -> dict[str, set[str]]:
    return import_graph({m: (p.read_text(), p.name == "__init__.py") for m, p in project_modules().items()})


def test_every_import_goes_down_the_layers():
    graph = project_graph()
    assert len(graph) > 100 and any(layer(m) == "cli" for m in graph)
    assert wrong_way(graph) == []


def test_no_two_modules_import_each_other_round_any_loop():
    assert circles(project_graph()) == []


def test_the_check_catches_a_library_module_importing_the_command_line():
    """Checked by hand too: adding `from racekit.cli import UserError` to racekit/racing.py fails the test above."""
    graph = import_graph({
        "racekit.racing": ("from racekit.cli.race import Progress\nfrom racekit.sim.env import TimeTrialEnv\n", False),
        "racekit.cli": ("", True),
        "racekit.cli.race": ("from racekit.racing import race\n", False),
        "racekit.sim": ("", True),
        "racekit.sim.env": ("def f():\n    from racekit.agent.train import RunConfig\n", False),
        "racekit.agent": ("", True),
        "racekit.agent.train": ("from . import ppo\n", False),
        "racekit.agent.ppo": ("", False),
    })
    assert graph["racekit.agent.train"] == {"racekit.agent.ppo"}  # relative imports resolve
    assert wrong_way(graph) == ["racekit.racing (library) imports racekit.cli.race (cli)",
                                "racekit.sim.env (sim) imports racekit.agent.train (agent)"]
    assert circles(graph) == [["racekit.cli.race", "racekit.racing"]]
