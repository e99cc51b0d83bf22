"""Pack a window of a corpus's clips small enough to travel to a lent GPU machine (64 MiB a call).

Copies ``--train`` clips of ``train.txt`` from clip ``--start`` on (wrapping round to the first) and the
first ``--val`` of ``val.txt`` (audio files unchanged, lossless), and writes ``train.txt`` and ``val.txt``
for them beside the clips:

    python tools/pack_corpus.py ../shared/data/joe-lj .gpu/joe-lj --train 180 --start 360

Only about 180 clips fit a call, a quarter of joe-lj's 700, so successive leases take successive windows
(``--start`` 0, 180, 360, ...): over four leases the vocoder sees every training clip instead of the same
180 over and over. The validation clips stay the same, so validation losses compare across leases.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from tts_pipeline.training.data import read_filelist


def window(items: list, start: int, count: int) -> list:
    """``count`` items from index ``start`` on, wrapping round to the front (each item at most once)."""
    if not items:
        return []
    start %= len(items)
    return (items[start:] + items[:start])[:count]


def pack(corpus: Path, out: Path, counts: dict[str, int], starts: dict[str, int] | None = None) -> int:
    """Copy ``counts[split]`` clips of each split list, from ``starts[split]`` (default 0), under ``out``.

    Returns the bytes copied. ``out`` is emptied of earlier clips first, so it holds only this window.
    """
    if (out / "wavs").is_dir():
        shutil.rmtree(out / "wavs")
    (out / "wavs").mkdir(parents=True)
    total = 0
    for split, count in counts.items():
        lines = []
        for item in window(read_filelist(corpus / f"{split}.txt"), (starts or {}).get(split, 0), count):
            target = out / "wavs" / item.audio.name
            shutil.copyfile(item.audio, target)
            total += target.stat().st_size
            lines.append(f"wavs/{item.audio.name}|{item.text}\n")
        (out / f"{split}.txt").write_text("".join(lines), encoding="utf-8")
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path, help="folder with train.txt and val.txt")
    parser.add_argument("out", type=Path)
    parser.add_argument("--train", type=int, default=200, help="training clips to take (default 200)")
    parser.add_argument("--start", type=int, default=0, help="first training clip to take (default 0)")
    parser.add_argument("--val", type=int, default=10, help="validation clips to take (default 10)")
    args = parser.parse_args()
    total = pack(args.corpus, args.out, {"train": args.train, "val": args.val}, {"train": args.start})
    print(f"{args.out}: {args.train} training clips from {args.start} + {args.val} val, {total / 2**20:.1f} MB")


if __name__ == "__main__":
    main()
