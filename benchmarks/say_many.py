"""Speaking many sentences: one text at a time (Pipeline.synthesize) against Pipeline.synthesize_many.

    python benchmarks/say_many.py --list ../shared/data/joe-lj/val.txt --limit 16 [--vocoder griffin-lim]

Uses the bundled demo voice (or --config); both ways run on the same pipeline, alternately, ``--repeats``
times, and the medians are printed as a Markdown row for BENCHMARKS.md. The texts are the file list's.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from tts_pipeline.pipeline import Pipeline
from tts_pipeline.training.data import read_filelist


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", type=Path, required=True, help="file list (path|text) whose texts are spoken")
    parser.add_argument("--limit", type=int, default=16, help="first N texts (default 16)")
    parser.add_argument("--config", type=Path, help="pipeline config (default: the bundled voice)")
    parser.add_argument("--vocoder", help="vocoder name instead of the config's (e.g. griffin-lim)")
    parser.add_argument("--batch-size", type=int, default=8, help="sentences decoded together (default 8)")
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds (median; default 3)")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (default 2)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config: dict = {"acoustic": {"name": "tacotron2", "batch_size": args.batch_size}, "runtime": {"seed": 0}}
    if args.vocoder:
        config["vocoder"] = {"name": args.vocoder}
    pipeline = Pipeline.from_config(args.config) if args.config else Pipeline.from_config(config)
    texts = [item.text for item in read_filelist(args.list)[: args.limit]]
    pipeline.synthesize(texts[0])  # warm-up

    def one_by_one() -> float:
        return sum(pipeline.synthesize(text).duration for text in texts)

    def together() -> float:
        return sum(audio.duration for audio in pipeline.synthesize_many(texts))

    times: dict[str, list[float]] = {"one by one": [], "synthesize_many": []}
    audio_seconds: dict[str, float] = {}
    for _ in range(args.repeats):
        for name, run in (("one by one", one_by_one), ("synthesize_many", together)):
            start = time.perf_counter()
            audio_seconds[name] = run()
            times[name].append(time.perf_counter() - start)
    base = statistics.median(times["one by one"])
    print("| way | texts | audio s | wall s (median) | RTF | speed-up |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, values in times.items():
        wall = statistics.median(values)
        rtf = wall / audio_seconds[name]
        print(f"| {name} | {len(texts)} | {audio_seconds[name]:.1f} | {wall:.1f} | {rtf:.3f} | {base / wall:.2f} |")


if __name__ == "__main__":
    main()
