"""Safe file output: every output is written to a temporary file beside it, then renamed into place."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import AudioIOError


def check_readable(path: str | os.PathLike, what: str = "file") -> Path:
    """Return ``path`` as a Path, or raise AudioIOError saying why it cannot be read."""
    if not isinstance(path, str | os.PathLike):
        raise AudioIOError(f"the {what} must be a path (str or pathlib.Path), not {type(path).__name__}")
    p = Path(path)
    if not p.exists():
        raise AudioIOError(f"{what} not found: {p} (check the path)")
    if p.is_dir():
        raise AudioIOError(f"{what} is a directory, not a file: {p}")
    if not os.access(p, os.R_OK):
        raise AudioIOError(f"cannot read {what} {p}: permission denied")
    return p


def check_writable(path: str | os.PathLike) -> Path:
    """The folder ``path`` would be written in; AudioIOError when it is missing, a file, or read-only."""
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.exists():
        raise AudioIOError(f"cannot write {target}: folder {folder} does not exist (create it first)")
    if not folder.is_dir():
        raise AudioIOError(f"cannot write {target}: {folder} is a file, not a folder (choose another path)")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise AudioIOError(f"cannot write {target}: folder {folder} is not writable (choose a writable path)")
    return folder


def check_not_input(output: str | os.PathLike, inputs: Iterable[str | os.PathLike]) -> None:
    """AudioIOError when ``output`` names one of ``inputs`` (inputs are never overwritten)."""
    target = Path(output).resolve()
    for source in inputs:
        if Path(source).resolve() == target:
            raise AudioIOError(f"output {output} is the input {source}: choose another output path")


@contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it to ``path`` only if the block succeeds.

    A failed or interrupted write leaves no file at ``path`` (and an existing one untouched).
    """
    target = Path(path)
    folder = check_writable(target)
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part" + target.suffix, dir=folder)
    except OSError as exc:
        raise AudioIOError(f"cannot write {target}: {exc.strerror} (choose a writable path)") from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, _output_mode(target))  # mkstemp makes 0600; give what a plain open() would
        os.replace(tmp, target)
    except OSError as exc:
        raise AudioIOError(f"cannot write {target}: {exc.strerror or exc} (choose a writable path)") from None
    finally:
        if tmp.exists():
            tmp.unlink()


def _output_mode(target: Path) -> int:
    """The permission bits for a new ``target``: an existing file's own, else 0666 less the umask."""
    try:
        return target.stat().st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
