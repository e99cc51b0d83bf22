"""Turning command-line inputs and the -o argument into (input, output) pairs."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ..errors import AudioIOError
from ..fileio import check_not_input, check_writable


def collect_inputs(paths: tuple[Path, ...], extensions: tuple[str, ...], what: str) -> list[Path]:
    """Expand folders into their files with ``extensions`` (sorted); check every file exists."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in extensions)
            if not files:
                raise AudioIOError(f"folder {path} holds no {what} files ({', '.join(extensions)})")
            found.extend(files)
        elif path.exists():
            found.append(path)
        else:
            raise AudioIOError(f"{what} file not found: {path} (check the path)")
    if not found:
        raise AudioIOError(f"no {what} files given")
    return found


def plan_outputs(inputs: list[Path], output: str | Path, extensions: tuple[str, ...], default_ext: str) -> list[Path]:
    """One output path per input: ``output`` itself for a single input (unless it is a folder or ends
    with /), else files named after the inputs inside the folder ``output`` (created if missing).

    ``output`` is best passed as the string the user typed: a ``Path`` has already dropped a trailing /.
    Every check runs before the folder is made, so a refused command leaves nothing behind.
    """
    as_folder = names_a_folder(output)
    output = Path(output)
    if len(inputs) == 1 and not as_folder:
        if output.suffix.lower() not in extensions:
            raise AudioIOError(
                f"cannot write {output}: unknown extension {output.suffix or '(none)'}; use {', '.join(extensions)}"
                " (or end the path with / for a folder)"
            )
        check_not_input(output, inputs)
        return [output]
    if output.suffix.lower() in extensions and not as_folder:
        raise AudioIOError(f"{len(inputs)} inputs need an output folder, not the file {output}; pass -o FOLDER/")
    return folder_outputs([p.stem for p in inputs], output, default_ext, inputs)


def names_a_folder(output: str | Path) -> bool:
    """Whether -o ``output`` is a folder: an existing one, or a path the user ended with /."""
    return Path(output).is_dir() or str(output).endswith(("/", "\\"))


def folder_outputs(names: list[str], folder: Path, ext: str, inputs: Iterable[str | Path] = ()) -> list[Path]:
    """``folder / (name + ext)`` for each name; the folder is made (if missing) only after every check
    passes: names unique, no output naming one of ``inputs``, ``folder`` not a file."""
    if len(set(names)) != len(names):
        raise AudioIOError("two inputs have the same file name; they would overwrite each other in the output folder")
    outputs = [folder / f"{name}{ext}" for name in names]
    for path in outputs:
        check_not_input(path, inputs)
    if folder.exists() and not folder.is_dir():
        raise AudioIOError(f"cannot write into {folder}: it is a file, not a folder (choose another path)")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AudioIOError(f"cannot create output folder {folder}: {exc.strerror} (choose a writable path)") from None
    check_writable(outputs[0])  # once, not one error per input
    return outputs
