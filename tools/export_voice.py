"""Export a training run's latest weights as a voice file: float16 safetensors, metadata kept.

    python tools/export_voice.py runs/waveglow-demo tts_pipeline/voices/joe-lj-demo/waveglow
    python tools/export_voice.py runs/waveglow-demo $OUT/waveglow --split-mb 15   # pieces, for transfer
    python tools/export_voice.py runs/tacotron2-demo voice/tacotron2 --average 4     # mean of the last 4

writes ``OUT.safetensors`` (or ``OUT.safetensors.part0``, ``.part1``, ... of at most ``--split-mb`` MB each;
``cat`` them back together in order). The project's loaders read float16 files as they read float32 ones.

``--average N`` exports the element-wise mean of the run's newest N model files instead of the newest alone
(checkpoint averaging, as fairseq and ESPnet do it: late in training, with a small learning rate, the
checkpoints sit in one basin and their mean is smoother than any of them). Integer tensors (batch-norm
counters) come from the newest file.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import NoReturn

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from tts_pipeline.errors import TTSError
from tts_pipeline.fileio import atomic_output, check_not_input
from tts_pipeline.training.checkpoints import model_files


def latest_model_files(run: Path, count: int = 1) -> list[Path]:
    """The run's ``count`` model_<step>.safetensors with the highest steps, oldest first."""
    files = model_files(run)
    if not files:
        fail(f"no model_*.safetensors in {run}: train first (tts-pipeline train ...)")
    if len(files) < count:
        fail(f"--average {count} needs {count} model files, but {run} has {len(files)}")
    return files[-count:]


def fail(message: str) -> NoReturn:
    """One line on stderr and exit status 2, as the tts-pipeline commands do."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)


def read_model(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and metadata of one safetensors model file."""
    try:
        with safe_open(str(path), framework="pt") as fh:
            return {key: fh.get_tensor(key) for key in fh.keys()}, dict(fh.metadata() or {})  # noqa: SIM118
    except (SafetensorError, OSError) as exc:
        fail(f"cannot read {path} as a model file ({exc}): give a run folder or one of its model_*.safetensors")


def average(sources: list[Path]) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Element-wise mean (in float32) of the floating tensors of ``sources``, which must hold the same
    model: same keys, shapes and recorded config. Integer tensors and metadata come from the last file."""
    tensors, metadata = read_model(sources[-1])
    total = {k: v.float() for k, v in tensors.items() if v.is_floating_point()}
    for source in sources[:-1]:
        other, other_metadata = read_model(source)
        same_shapes = {k: tuple(v.shape) for k, v in other.items()} == {k: tuple(v.shape) for k, v in tensors.items()}
        if not same_shapes or other_metadata.get("tts_pipeline.config") != metadata.get("tts_pipeline.config"):
            fail(f"{source} and {sources[-1]} hold different models: average one run's files")
        for key in total:
            total[key] += other[key].float()
    averaged = {k: total[k] / len(sources) if k in total else v for k, v in tensors.items()}
    return averaged, metadata


def export(sources: list[Path], out: Path, split_mb: float | None) -> list[Path]:
    """Write the tensors of ``sources`` (one file, or the mean of several) in float16 (integers unchanged)
    to ``out``.safetensors or its parts."""
    tensors, metadata = average(sources)
    half = {k: v.half() if v.is_floating_point() else v for k, v in tensors.items()}
    metadata["exported_from"] = " + ".join(source.name for source in sources)
    target = out.with_name(out.name + ".safetensors")
    try:
        check_not_input(target, sources)  # the export must not replace the file it reads
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(target) as tmp:
            save_file(half, str(tmp), metadata=metadata)
    except (TTSError, OSError) as exc:
        fail(str(exc) if isinstance(exc, TTSError) else f"cannot write {target}: {exc.strerror or exc}")
    if split_mb is None:
        return [target]
    data, size = target.read_bytes(), int(split_mb * 2**20)
    parts = []
    for index, offset in enumerate(range(0, len(data), size)):
        part = target.with_name(f"{target.name}.part{index}")
        part.write_bytes(data[offset : offset + size])
        parts.append(part)
    target.unlink()
    return parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a training output folder (or one model_*.safetensors file)")
    parser.add_argument("out", type=Path, help="output path without the .safetensors suffix")
    parser.add_argument("--split-mb", type=float, help="cut the file into pieces of at most this many MB")
    parser.add_argument("--average", type=int, default=1, metavar="N", help="the mean of the run's newest N files")
    args = parser.parse_args()
    if args.average < 1:
        parser.error(f"--average takes a count of model files, 1 or more, not {args.average}")
    if args.split_mb is not None and not (math.isfinite(args.split_mb) and args.split_mb >= 0.001):
        parser.error(f"--split-mb takes a size in MB of at least 0.001, not {args.split_mb}")
    if not args.run.exists():
        fail(f"{args.run} not found: give a training output folder or one of its model_*.safetensors")
    if args.run.is_file() and args.average > 1:
        parser.error("--average needs a training output folder, not one file")
    sources = [args.run] if args.run.is_file() else latest_model_files(args.run, args.average)
    for path in export(sources, args.out, args.split_mb):
        print(f"{' + '.join(map(str, sources))} -> {path} ({path.stat().st_size / 2**20:.1f} MB)")


if __name__ == "__main__":
    main()
