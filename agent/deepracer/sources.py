"""Where a DeepRacer model comes from: the three layouts users bring, read into memory.

1. A car tarball (.tar.gz: the console's "Download model", deepracer-for-cloud's carfile, DeepRacer on
   AWS's export): exactly one `.pb` and one `model_metadata.json`. Members are read in memory, never
   extracted: a member that reaches outside the archive (`..`, an absolute path), a link, or an archive
   that unpacks past MAX_UNPACKED is refused before anything is read.
2. A training prefix (deepracer-for-cloud's bucket): a folder with `model/deepracer_checkpoints.json`,
   `model/model_metadata.json` and one frozen `model/model_N.pb` per kept checkpoint `N_Step-S.ckpt`.
3. A bare `model.pb` beside its `model_metadata.json` (or a folder holding just those).
"""
from __future__ import annotations

import hashlib
import json
import re
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from racekit.agent.deepracer.errors import DeepRacerError

METADATA = "model_metadata.json"
CHECKPOINTS = "deepracer_checkpoints.json"
MAX_UNPACKED = 1 << 30  # bytes: the deep preset's graph is ~100 MB; more is not a model


@dataclass(frozen=True)
class Source:
    graph: bytes  # the frozen graph
    graph_name: str  # "model.tar.gz:agent/model.pb", "prefix/model/model_30.pb", ...
    metadata: bytes
    metadata_name: str
    path: Path  # what the user gave
    sha256: str  # of that file (a prefix or a folder: of the .pb)
    layout: str  # "tarball", "training-prefix" or "model.pb"
    checkpoint: str | None = None  # a prefix's checkpoint, e.g. "30_Step-163797.ckpt"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def is_deepracer_source(source: str | Path) -> bool:
    """Whether a path is laid out as a DeepRacer model (not a racekit run, checkpoint or model file)."""
    path = Path(source)
    if path.is_dir():
        return (path / "model" / CHECKPOINTS).is_file() or (path / CHECKPOINTS).is_file() or \
            (any(path.glob("*.pb")) and (path / METADATA).is_file())
    return path.suffix == ".pb" or path.name.endswith((".tar.gz", ".tgz", ".tar"))


def open_source(source: str | Path, checkpoint: str = "best", max_unpacked: int = MAX_UNPACKED) -> Source:
    """Read a DeepRacer model from any of the three layouts; DeepRacerError naming the path otherwise."""
    path = Path(source)
    if not path.exists():
        raise DeepRacerError(f"{path}: no such file or folder")
    if path.is_dir():
        if (path / "model" / CHECKPOINTS).is_file():
            return _prefix(path, path / "model", checkpoint)
        if (path / CHECKPOINTS).is_file():  # the model/ folder itself
            return _prefix(path, path, checkpoint)
        pbs = sorted(path.glob("*.pb"))
        if len(pbs) != 1:
            raise DeepRacerError(f"{path}: not a DeepRacer model folder (no model/{CHECKPOINTS}, and "
                                 f"{len(pbs)} .pb files instead of one)")
        return _bare(pbs[0], path)
    if path.suffix == ".pb":
        return _bare(path, path)
    if tarfile.is_tarfile(path):
        return _tarball(path, max_unpacked)
    raise DeepRacerError(f"{path}: not a DeepRacer model (a .tar.gz car tarball, a training prefix folder, "
                         f"or a model.pb beside its {METADATA})")


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise DeepRacerError(f"{path}: cannot read ({exc.strerror or exc})") from None


def _bare(pb: Path, given: Path) -> Source:
    meta = pb.parent / METADATA
    if not meta.is_file():
        raise DeepRacerError(f"{pb}: no {METADATA} beside it (DeepRacer writes one with every model)")
    graph = _read(pb)
    return Source(graph, str(pb), _read(meta), str(meta), given, sha256(graph), "model.pb")


def _prefix(root: Path, folder: Path, checkpoint: str) -> Source:
    where = folder / CHECKPOINTS
    try:
        kept = json.loads(_read(where))
    except json.JSONDecodeError as exc:
        raise DeepRacerError(f"{where}: not JSON ({exc})") from None
    frozen = {int(m.group(1)): p for p in folder.glob("model_*.pb") if (m := re.fullmatch(r"model_(\d+)\.pb", p.name))}
    if checkpoint in ("best", "last"):
        entry = kept.get(f"{checkpoint}_checkpoint") if isinstance(kept, dict) else None
        name = entry.get("name") if isinstance(entry, dict) else None
        match = re.match(r"(\d+)_Step", name or "")
        if not match:
            raise DeepRacerError(f"{where}: no {checkpoint}_checkpoint.name of the form N_Step-S.ckpt")
        number = int(match.group(1))
    elif checkpoint.isdigit():
        number, name = int(checkpoint), None
    else:
        raise DeepRacerError(f"--checkpoint must be best, last or a checkpoint number, not {checkpoint!r}")
    if number not in frozen:
        have = ", ".join(str(n) for n in sorted(frozen)) or "none"
        raise DeepRacerError(f"{folder}: no model_{number}.pb for checkpoint {name or number} (frozen checkpoints: "
                             f"{have})")
    meta = folder / METADATA
    if not meta.is_file():
        raise DeepRacerError(f"{folder}: no {METADATA}")
    graph = _read(frozen[number])
    return Source(graph, str(frozen[number]), _read(meta), str(meta), root, sha256(graph), "training-prefix",
                  name or f"model_{number}.pb")


def _tarball(path: Path, max_unpacked: int) -> Source:
    try:
        with tarfile.open(path) as archive:
            members = _checked_members(archive, path, max_unpacked)
            pbs = [m for m in members if m.name.endswith(".pb")]
            metas = [m for m in members if PurePosixPath(m.name).name == METADATA]
            if len(pbs) != 1:
                raise DeepRacerError(f"{path}: a DeepRacer car tarball holds exactly one .pb file, this one has "
                                     f"{len(pbs)}" + (f" ({', '.join(m.name for m in pbs[:4])})" if pbs else ""))
            if len(metas) != 1:
                raise DeepRacerError(f"{path}: a DeepRacer car tarball holds one {METADATA}, this one has {len(metas)}")
            graph = archive.extractfile(pbs[0]).read()
            meta = archive.extractfile(metas[0]).read()
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise DeepRacerError(f"{path}: a broken tarball ({exc})") from None
    return Source(graph, f"{path}:{pbs[0].name}", meta, f"{path}:{metas[0].name}", path, sha256(_read(path)),
                  "tarball")


def _checked_members(archive: tarfile.TarFile, path: Path, max_unpacked: int) -> list[tarfile.TarInfo]:
    """The archive's regular files, after refusing any member that reaches outside it or a total past the limit."""
    files, total = [], 0
    for member in archive:  # headers only: nothing is decompressed past what iterating needs
        name = PurePosixPath(member.name)
        if name.is_absolute() or ".." in name.parts:
            raise DeepRacerError(f"{path}: member {member.name!r} reaches outside the archive; refused, nothing read")
        if member.issym() or member.islnk():
            raise DeepRacerError(f"{path}: member {member.name!r} is a link; refused, nothing read")
        if member.isdev():
            raise DeepRacerError(f"{path}: member {member.name!r} is a device file; refused, nothing read")
        total += member.size
        if total > max_unpacked:
            raise DeepRacerError(f"{path}: unpacks to more than {max_unpacked / 2**20:.0f} MB; not a model, refused")
        if member.isfile():
            files.append(member)
    return files
