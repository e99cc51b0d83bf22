"""Pack a window of a corpus's clips small enough to travel to a lent GPU machine (64 MiB a call).

Copies ``--train`` clips of ``train.txt`` from clip ``--start`` on (wrapping round to the first) and the
first ``--val`` of ``val.txt`` (audio files unchanged, lossless), and writes ``train.txt`` and ``val.txt``
for them beside the clips:

    python tools/pack_corpus.py ../shared/data/joe-lj .gpu/joe-lj --train 180 --start 340 --fit-mib 64

Only 160-180 clips fit a call, a quarter of joe-lj's 700, so successive leases take successive windows
(each ``--start`` where the last window ended): the vocoder sees every training clip in turn instead of
the same ones over and over. The validation clips stay the same, so validation losses compare across
leases. ``--fit-mib`` stops taking training clips before the whole call would pass that size: the
repository's files that travel (tracked, and untracked ones git does not ignore), the other files beside
``out`` (the carried folder, e.g. its wheels) and the clips; the tool prints where the next window starts.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
from pathlib import Path

from tts_pipeline.training.data import read_filelist


def window(items: list, start: int, count: int) -> list:
    """``count`` items from index ``start`` on, wrapping round to the front (each item at most once)."""
    if not items:
        return []
    start %= len(items)
    return (items[start:] + items[:start])[:count]


def pack(
    corpus: Path,
    out: Path,
    counts: dict[str, int],
    starts: dict[str, int] | None = None,
    budget: int | None = None,
) -> tuple[int, dict[str, int]]:
    """Copy ``counts[split]`` clips of each split list, from ``starts[split]`` (default 0), under ``out``.

    With ``budget`` (bytes), the splits are taken in the order of ``counts`` and a split's clips stop at the
    first that would pass it. Returns the bytes copied and the clips taken per split. ``out`` is emptied
    of earlier clips first, so it holds only this window.
    """
    if (out / "wavs").is_dir():
        shutil.rmtree(out / "wavs")
    (out / "wavs").mkdir(parents=True)
    total, taken = 0, {}
    for split, count in counts.items():
        lines = []
        for item in window(read_filelist(corpus / f"{split}.txt"), (starts or {}).get(split, 0), count):
            if budget is not None and total + item.audio.stat().st_size > budget:
                break
            target = out / "wavs" / item.audio.name
            shutil.copyfile(item.audio, target)
            total += target.stat().st_size
            lines.append(f"wavs/{item.audio.name}|{item.text}\n")
        (out / f"{split}.txt").write_text("".join(lines), encoding="utf-8")
        taken[split] = len(lines)
    return total, taken


def travelling_bytes(out: Path) -> int:
    """Bytes that travel with a call besides the clips under ``out``: the repository's files that git does
    not ignore (the whole repository the current directory is in) and every other file under ``out``'s parent."""

    def git(*args: str) -> bytes:
        return subprocess.run(["git", *args], capture_output=True, check=True).stdout

    top = Path(git("rev-parse", "--show-toplevel").decode().strip())
    listed = git("-C", str(top), "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    repo = sum(p.stat().st_size for name in listed.split(b"\0") if name and (p := top / name.decode()).is_file())
    beside = sum(p.stat().st_size for p in out.parent.rglob("*") if p.is_file() and out not in p.parents)
    return repo + beside


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path, help="folder with train.txt and val.txt")
    parser.add_argument("out", type=Path)
    parser.add_argument("--train", type=int, default=180, help="training clips to take at most (default 180)")
    parser.add_argument("--start", type=int, default=0, help="first training clip to take (default 0)")
    parser.add_argument("--val", type=int, default=10, help="validation clips to take (default 10)")
    parser.add_argument(
        "--fit-mib", type=float, help="keep the whole call under this size (a lent GPU machine's call: 64)"
    )
    args = parser.parse_args()
    budget = None
    if args.fit_mib is not None:
        margin = 2**19  # what the call's own bookkeeping might add
        budget = int(args.fit_mib * 2**20) - margin - travelling_bytes(args.out)
    counts = {"val": args.val, "train": args.train}
    total, taken = pack(args.corpus, args.out, counts, {"train": args.start}, budget)
    n = len(read_filelist(args.corpus / "train.txt"))
    print(
        f"{args.out}: {taken['train']} training clips from {args.start} + {taken['val']} val, "
        f"{total / 2**20:.1f} MiB; the next window starts at {(args.start + taken['train']) % n}"
    )
    if taken["val"] < args.val or taken["train"] == 0:
        raise SystemExit(f"only {taken['val']} val and {taken['train']} training clips fit: free some space")


if __name__ == "__main__":
    main()
