"""Fit the learned correction for converting mels of one format to another, on real speech.

    python tools/fit_mel_correction.py --source rayhane --corpus ../shared/data/joe-lj
    python tools/fit_mel_correction.py --source hansonrobotics --corpus ../shared/data/joe-lj

For every clip of the fit list, the source mel and the target mel are computed from the same audio; the
source mel is converted with the band mapping alone, and a small network (tts_pipeline.audio.correction)
learns the difference to the target's log mel: L1 over the cells above the source's floor (cells below
it, which the source cannot tell apart, are pulled weakly toward the floor). The error is reported on
the held-out list before and after, with the metric of tests/test_convert.py, and the correction is
written into the package. Deterministic for a given seed and thread count.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from tts_pipeline.audio.convert import convert_mel, decompress
from tts_pipeline.audio.correction import (
    CORRECTIONS_DIR,
    CorrectionNet,
    MelCorrection,
    inside_source_bands,
    source_floor,
)
from tts_pipeline.audio.format_files import resolve_format
from tts_pipeline.audio.io import read_audio
from tts_pipeline.audio.mel import compute_mel
from tts_pipeline.plugins import get_registry
from tts_pipeline.training.data import read_filelist


def read_paths(corpus: Path, name: str, limit: int | None) -> list[Path]:
    """Audio paths of a file list in the corpus folder (the first ``limit`` when given)."""
    paths = [item.audio for item in read_filelist(corpus / name)]
    return paths[:limit] if limit else paths


def pair(path: Path, src, dst) -> tuple[torch.Tensor, torch.Tensor]:
    """(converted, reference) natural-log destination energies [n_dst, T] of one clip."""
    audio, _ = read_audio(path, src.sample_rate)
    reference = torch.log(decompress(compute_mel(audio, dst).double(), dst))
    converted = convert_mel(compute_mel(audio, src), src, dst, learned=False).double()
    converted = torch.log(decompress(converted, dst))
    n = min(reference.shape[1], converted.shape[1])
    return converted[:, :n], reference[:, :n]


def mean_error(pairs, src, dst, correction: MelCorrection | None) -> float:
    """The test metric: mean |converted - reference| over cells above the source floor, inside its bands."""
    floor, inside = source_floor(src, dst), inside_source_bands(src, dst)[:, None]
    total, count = 0.0, 0
    for converted, reference in pairs:
        out = correction.apply(converted) if correction is not None else converted
        mask = (reference > floor) & inside
        total += float((out - reference).abs()[mask].sum())
        count += int(mask.sum())
    return total / count


def train(pairs, floor: float, net: CorrectionNet, epochs: int, quiet_weight: float = 0.1) -> None:
    """Fit ``net`` to reference - converted, L1 over audible cells (quiet cells: toward the floor, weakly)."""
    features = torch.cat([net.features(c[None].float())[0] for c, _ in pairs])  # [frames, width]
    converted = torch.cat([c.T.float() for c, _ in pairs])  # [frames, n]
    reference = torch.cat([r.T.float() for _, r in pairs])
    weight = torch.where(reference > floor, 1.0, quiet_weight)
    target = reference.clamp(min=floor) - converted
    net.mean.copy_(features.mean(0))
    net.std.copy_(features.std(0) + 1e-3)
    features = (features - net.mean) / net.std
    optimizer = torch.optim.Adam(net.layers.parameters(), lr=2e-3)
    schedule = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.1 ** (1 / max(1, epochs - 1)))
    for epoch in range(epochs):
        order = torch.randperm(features.shape[0])
        total = 0.0
        for start in range(0, len(order), 1024):
            idx = order[start : start + 1024]
            loss = ((net.layers(features[idx]) - target[idx]).abs() * weight[idx]).sum() / weight[idx].sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(idx)
        schedule.step()
        print(f"epoch {epoch + 1}/{epochs}: loss {total / len(order):.4f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", required=True, help="format name, .toml/.json file or hparams string")
    parser.add_argument("--target", default="nvidia")
    parser.add_argument("--corpus", type=Path, required=True, help="LJSpeech-style folder with file lists")
    parser.add_argument("--fit-list", default="train.txt")
    parser.add_argument("--eval-list", default="val.txt")
    parser.add_argument("--max-clips", type=int, default=None, help="use only the first N fit clips")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--context", type=int, default=3, help="neighbouring frames on each side")
    parser.add_argument("--hidden", type=int, default=384)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    formats = get_registry().mel_formats
    src, dst = resolve_format(args.source, formats), resolve_format(args.target, formats)
    fit_paths = read_paths(args.corpus, args.fit_list, args.max_clips)
    eval_paths = read_paths(args.corpus, args.eval_list, None)
    print(f"{src.name} -> {dst.name}: fitting on {len(fit_paths)} clips, evaluating on {len(eval_paths)}")
    fit_pairs = [pair(p, src, dst) for p in fit_paths]
    eval_pairs = [pair(p, src, dst) for p in eval_paths]
    torch.manual_seed(args.seed)
    net = CorrectionNet(dst.n_mels, args.context, args.hidden)
    train(fit_pairs, source_floor(src, dst), net, args.epochs)
    net.eval()
    frames = sum(c.shape[1] for c, _ in fit_pairs)
    correction = MelCorrection(src, dst, net, info="")
    before = mean_error(eval_pairs, src, dst, None)
    after = mean_error(eval_pairs, src, dst, correction)
    fitted = mean_error(fit_pairs[:40], src, dst, correction)
    info = (
        f"fitted on {len(fit_paths)} clips ({frames} frames) of {args.corpus.name}/{args.fit_list}, "
        f"{args.epochs} epochs, seed {args.seed}; mean abs error on {len(eval_paths)} held-out clips "
        f"({args.eval_list}): {before:.3f} -> {after:.3f} (first 40 fit clips: {fitted:.3f})"
    )
    print(info)
    out = args.out or CORRECTIONS_DIR / f"{src.name}-to-{dst.name}.safetensors"
    out.parent.mkdir(parents=True, exist_ok=True)
    correction.info = info
    correction.save(out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
