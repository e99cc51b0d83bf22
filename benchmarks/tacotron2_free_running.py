"""Free-running Tacotron2 against the recordings, without an ASR model: log-mel distance after DTW, length
ratio, sharpness and unstopped fraction (what training logs at each validation, here over a whole list and
for several checkpoints at once).

    python benchmarks/tacotron2_free_running.py runs/keep/model_00012323.safetensors \\
        tts_pipeline/voices/joe-lj-demo/tacotron2.safetensors --list ../shared/data/joe-lj/val.txt

Utterances are decoded in batches of ``--batch`` with prenet dropout drawn from seed + position in the
batch, so a checkpoint's figures are reproducible (at a fixed thread count) and differences between
checkpoints come from the weights.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from tts_pipeline_tacotron2.checkpoint import build_tacotron2, load_tacotron2_checkpoint
from tts_pipeline_tacotron2.free_running import free_running_metrics
from tts_pipeline_tacotron2.train_task import Tacotron2Task, Tacotron2TrainOptions

from tts_pipeline.training.data import read_filelist


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", type=Path, nargs="+", help="Tacotron2 weights in any supported layout")
    parser.add_argument("--list", type=Path, required=True, help="LJSpeech-style file list (audio|text)")
    parser.add_argument("--limit", type=int, help="only the first N utterances")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cmudict", help='CMUdict file, or "bundled": dictionary words as ARPAbet (as `say`)')
    args = parser.parse_args()
    utterances = read_filelist(args.list)[: args.limit]
    # the task for its validation data only: trimmed NVIDIA mels, text ids (dictionary words as ARPAbet)
    task = Tacotron2Task(Tacotron2TrainOptions(cmudict=args.cmudict))
    dataset = task.dataset(utterances, train=False)
    items = [dataset[i] for i in range(len(dataset))]
    batches = [task.collate(items[i : i + args.batch]) for i in range(0, len(items), args.batch)]
    print(f"{len(utterances)} utterances of {args.list}; seed {args.seed}; {torch.get_num_threads()} threads")
    for path in args.checkpoints:
        model = build_tacotron2(load_tacotron2_checkpoint(path)).float().eval()
        sums: dict[str, float] = {}
        for batch in batches:
            n = batch["text"].shape[0]
            for key, value in free_running_metrics(model, batch, args.seed).items():
                sums[key] = sums.get(key, 0.0) + value * n
        figures = ", ".join(f"{key} {value / len(items):.4f}" for key, value in sums.items())
        print(f"{path}: {figures}", flush=True)


if __name__ == "__main__":
    main()
