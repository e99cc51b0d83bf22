"""Pack the first clips of a corpus small enough to travel to a lent GPU machine (64 MiB a call).

Copies the first ``--train`` clips of ``train.txt`` and the first ``--val`` of ``val.txt`` (audio files
unchanged, lossless) and writes ``train.txt`` and ``val.txt`` for them beside the clips:

    python tools/pack_corpus.py ../shared/data/joe-lj .gpu/joe-lj --train 200 --val 10
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from tts_pipeline.training.data import read_filelist


def pack(corpus: Path, out: Path, counts: dict[str, int]) -> int:
    """Copy the first ``counts[split]`` clips of each split list under ``out``; returns the bytes copied."""
    (out / "wavs").mkdir(parents=True, exist_ok=True)
    total = 0
    for split, count in counts.items():
        lines = []
        for item in read_filelist(corpus / f"{split}.txt")[:count]:
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
    parser.add_argument("--val", type=int, default=10, help="validation clips to take (default 10)")
    args = parser.parse_args()
    total = pack(args.corpus, args.out, {"train": args.train, "val": args.val})
    print(f"{args.out}: {args.train} + {args.val} clips, {total / 2**20:.1f} MB")


if __name__ == "__main__":
    main()
