"""Seconds per training step of the demo Tacotron2 (its recipe's [model] table, batch 16) against the
longest mel of the batch: what batching utterances of similar length (``bucket_by_length``) saves.

    python benchmarks/tacotron2_step_time.py                 # 505 and 724 frames, alternately, twice
    python benchmarks/tacotron2_step_time.py --frames 300 900 --steps 3

505 and 724 frames are the mean longest mel per step on the joe-lj training list with and without
length buckets (batch 16). Synthetic batches: random text ids and mels, 16 utterances per batch, the
longest first and each next one 20 frames shorter.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from tts_pipeline_tacotron2.train_task import Tacotron2Task, Tacotron2TrainOptions

from tts_pipeline.config import parse_options
from tts_pipeline.training.config import read_train_file

RECIPE = Path(__file__).parents[1] / "configs" / "tacotron2-demo-joe-lj.toml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, nargs="+", default=[505, 724], help="longest mel of each batch")
    parser.add_argument("--steps", type=int, default=4, help="timed steps per length and round")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if min(args.frames) <= 300:
        parser.error("--frames must be above 300 (the batch's mels run from it down by 20 frames each)")
    torch.manual_seed(0)
    _, model_values = read_train_file(RECIPE)
    options = parse_options(Tacotron2TrainOptions, model_values, "model (tacotron2)")
    task = Tacotron2Task(options)
    model = task.build_model().train()
    optimizer = torch.optim.Adam(model.parameters())
    for _ in range(args.rounds):
        for longest in args.frames:
            items = [
                (torch.randint(1, 100, (int(longest * 0.3),)), torch.randn(80, longest - 20 * i)) for i in range(16)
            ]
            batch = task.collate(items)
            times = []
            for _ in range(args.steps):
                start = time.perf_counter()
                loss, _ = task.loss(model, batch)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                times.append(time.perf_counter() - start)
            print(f"longest mel {longest} frames: " + ", ".join(f"{t:.2f}" for t in times) + " s per step", flush=True)


if __name__ == "__main__":
    main()
