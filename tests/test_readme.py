"""Every command the README shows runs as written (so the README cannot rot)."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, re.DOTALL)


LINES = [line.strip() for block in blocks("bash") for line in block.splitlines() if line.startswith("racekit ")]
# a command marked "# slow" (a real training run) runs in the slow set only
COMMANDS = [pytest.param(line.split("  # slow")[0], marks=pytest.mark.slow) if line.endswith("# slow") else line
            for line in LINES]
SNIPPETS = blocks("python")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A scratch folder that looks like the repo root: examples/ here and ../shared beside it.

    Shared by the module's tests, in README order: later commands use what earlier ones wrote.
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
    assert len(COMMANDS) >= 12 and SNIPPETS


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
        assert files and all(f.stat().st_size > 100 for f in files) and sum(f.stat().st_size for f in files) > 1000


@pytest.mark.parametrize("snippet", SNIPPETS)
def test_readme_python_snippet_runs(snippet, workdir):
    result = subprocess.run([sys.executable, "-c", snippet], cwd=workdir, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
