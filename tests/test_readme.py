"""Every command the README and the guides in docs/ show runs as written (so they cannot rot)."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# The pages in the order their commands run, in one shared workdir: later commands use what earlier ones
# wrote (training.md's quick run makes runs/quick and runs/quick.onnx, which robustness.md, analysis.md and
# racing.md use). A page of docs/ not named here runs after these, in name order.
ORDER = ["README.md", "docs/tracks.md", "docs/rewards.md", "docs/simulator.md", "docs/training.md",
         "docs/robustness.md", "docs/analysis.md", "docs/racing.md", "docs/car.md", "docs/performance.md"]
PAGES = [page for page in ORDER if (REPO / page).is_file()] + sorted(
    path for path in (p.relative_to(REPO).as_posix() for p in (REPO / "docs").glob("*.md")) if path not in ORDER)


def blocks(page: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", (REPO / page).read_text(), re.DOTALL)


def command(page: str, line: str):
    # a command marked "# slow" (a real training run) runs in the slow set only
    if line.endswith("# slow"):
        line = line.split("  # slow")[0]
        return pytest.param(line, id=f"{page}: {line}", marks=pytest.mark.slow)
    return pytest.param(line, id=f"{page}: {line}")


COMMANDS = [command(page, line.strip()) for page in PAGES for block in blocks(page, "bash")
            for line in block.splitlines() if line.startswith("racekit ")]
SNIPPETS = [pytest.param(snippet, id=f"{page}: snippet {i}") for page in PAGES
            for i, snippet in enumerate(blocks(page, "python"))]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A scratch folder that looks like the repo root: examples/ here and ../shared beside it.

    Shared by the module's tests, in page order (README.md first, then ORDER), every command before the
    snippets: later commands use what earlier ones wrote.
    """
    tmp_path = tmp_path_factory.mktemp("readme")
    work = tmp_path / "work"
    work.mkdir()
    (work / "examples").symlink_to(REPO / "examples")
    shared = REPO.parent / "shared"
    if shared.is_dir():
        (tmp_path / "shared").symlink_to(shared)
    return work


def test_the_readme_shows_commands_and_snippets():
    assert len(COMMANDS) >= 35 and SNIPPETS
    assert blocks("README.md", "bash") and blocks("README.md", "python")
    # every page of ORDER is there (a page renamed or moved must move in ORDER too, or its commands
    # would run out of order), and every command and snippet says which page it came from
    assert [page for page in ORDER if not (REPO / page).is_file()] == []
    assert all(param.id.split(": ")[0] in PAGES for param in COMMANDS + SNIPPETS)


@pytest.mark.parametrize("command", COMMANDS)
def test_readme_command_runs(command, workdir):
    if "../shared" in command and not (workdir.parent / "shared").exists():
        pytest.skip("../shared is not beside the repo")
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    result = subprocess.run(command, shell=True, cwd=workdir, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    for out in re.findall(r"--out (\S+)", command):
        path = workdir / out
        files = [f for f in path.rglob("*") if f.is_file()] if path.is_dir() else [path]
        # nothing empty or cut short: a JSON file parses (a run's live/status.json is a short one), others hold more
        assert files and all(json.loads(f.read_text()) is not None if f.suffix == ".json" else f.stat().st_size > 100
                             for f in files) and sum(f.stat().st_size for f in files) > 1000


@pytest.mark.parametrize("snippet", SNIPPETS)
def test_readme_python_snippet_runs(snippet, workdir):
    result = subprocess.run([sys.executable, "-c", snippet], cwd=workdir, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
