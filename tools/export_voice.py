"""Export a training run's latest weights as a voice file: float16 safetensors, metadata kept.

    python tools/export_voice.py runs/waveglow-demo tts_pipeline/voices/joe-lj-demo/waveglow
    python tools/export_voice.py runs/waveglow-demo $OUT/waveglow --split-mb 15   # pieces, for transfer

writes ``OUT.safetensors`` (or ``OUT.safetensors.part0``, ``.part1``, ... of at most ``--split-mb`` MB each;
``cat`` them back together in order). The project's loaders read float16 files as they read float32 ones.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from safetensors import safe_open
from safetensors.torch import save_file

from tts_pipeline.fileio import atomic_output


def latest_model_file(run: Path) -> Path:
    """The run's model_<step>.safetensors with the highest step."""
    files = sorted(run.glob("model_*.safetensors"), key=lambda p: int(re.sub(r"\D", "", p.stem) or 0))
    if not files:
        raise SystemExit(f"error: no model_*.safetensors in {run}: train first (tts-pipeline train ...)")
    return files[-1]


def export(source: Path, out: Path, split_mb: float | None) -> list[Path]:
    """Write ``source``'s tensors in float16 (integers unchanged) to ``out``.safetensors or its parts."""
    with safe_open(str(source), framework="pt") as fh:
        metadata = dict(fh.metadata() or {})
        tensors = {key: fh.get_tensor(key) for key in fh.keys()}  # noqa: SIM118 (safe_open has no iterator)
    half = {k: v.half() if v.is_floating_point() else v for k, v in tensors.items()}
    metadata["exported_from"] = source.name
    target = out.with_name(out.name + ".safetensors")
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(target) as tmp:
        save_file(half, str(tmp), metadata=metadata)
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
    args = parser.parse_args()
    source = args.run if args.run.is_file() else latest_model_file(args.run)
    for path in export(source, args.out, args.split_mb):
        print(f"{source} -> {path} ({path.stat().st_size / 2**20:.1f} MB)")


if __name__ == "__main__":
    main()
