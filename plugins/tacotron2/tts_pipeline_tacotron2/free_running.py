"""How far Tacotron2 running free (as at inference) is from the recordings: the validation loss is
teacher-forced, so it cannot see the errors that feed back when the decoder reads its own frames."""

from __future__ import annotations

import torch

from tts_pipeline.audio.dtw import mel_dtw_distance

from .model import Tacotron2


@torch.no_grad()
def free_running_metrics(model: Tacotron2, batch: dict[str, torch.Tensor], seed: int = 0) -> dict[str, float]:
    """Decode each utterance of ``batch`` (a training batch: text, text_lengths, mel, mel_lengths) from its
    text alone, with prenet dropout on as at inference and drawn from ``seed + b`` for utterance b (so the
    figure moves only with the model), for at most twice the longest recording's frames.

    Returns (means over the batch):
        free_mel_dtw: log-mel distance per band to the recording after DTW (nats for the NVIDIA mel);
        free_length_ratio: frames decoded / frames recorded;
        free_sharpness: mean absolute change from frame to frame, decoded / recorded: blurred (over-smoothed)
            mels, the usual failure of free-running decoders, sit below 1. The DTW distance alone rewards
            blur, since an average frame is never far from any frame;
        free_unstopped: the fraction whose stop gate never fired within the limit.
    """
    text, text_lengths = batch["text"], batch["text_lengths"]
    mels, mel_lengths = batch["mel"], batch["mel_lengths"]
    n = text.shape[0]
    generators = [torch.Generator(device=text.device).manual_seed(seed + b) for b in range(n)]
    out = model.infer(text, text_lengths, generators, max_decoder_steps=2 * int(mel_lengths.max()))
    distances, ratios, sharpness = [], [], []
    for b in range(n):
        decoded, recorded = int(out.mel_lengths[b]), int(mel_lengths[b])
        mel, reference = out.mel_postnet[b, :, :decoded].float(), mels[b, :, :recorded].float()
        distances.append(mel_dtw_distance(mel, reference))
        ratios.append(decoded / recorded)
        sharpness.append(float(_frame_change(mel) / _frame_change(reference).clamp(min=1e-6)))
    return {
        "free_mel_dtw": sum(distances) / n,
        "free_length_ratio": sum(ratios) / n,
        "free_sharpness": sum(sharpness) / n,
        "free_unstopped": float(out.truncated.float().mean()),
    }


def _frame_change(mel: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference between neighbouring frames of ``mel`` [n_mels, T] (0 for one frame)."""
    return mel.diff(dim=1).abs().mean() if mel.shape[1] > 1 else mel.new_zeros(())
