"""Mel matching: Rayhane-style mels computed from real speech, converted to NVIDIA's format.

Accuracy is the mean absolute difference (natural-log units) from the NVIDIA mel of the same audio,
over the cells above the source's floor and inside its band edges (bands outside them hold no
information in the source). Figures per preset are recorded in BENCHMARKS.md.
"""

import dataclasses
from pathlib import Path

import pytest
import torch

from tts_pipeline.audio.convert import convert_mel
from tts_pipeline.audio.correction import (
    CorrectionNet,
    MelCorrection,
    find_correction,
    inside_source_bands,
    source_floor,
)
from tts_pipeline.audio.formats import HANSONROBOTICS, NVIDIA, RAYHANE, MelFormat
from tts_pipeline.audio.io import read_audio
from tts_pipeline.audio.mel import compute_mel

WAVS = Path(__file__).parent / "data" / "joe-lj" / "wavs"
CLIPS = ["LJ016-0020", "LJ029-0032", "LJ040-0002"]

# (format, bound on the mean absolute difference) with the learned correction where one is bundled
# (rayhane, hansonrobotics); the issue asks for 0.1. Measured figures are in BENCHMARKS.md.
CASES = {
    "nvidia-db-normalised": (dataclasses.replace(NVIDIA, name="a", compression="db", normalization="symmetric"), 0.03),
    "nvidia-band-edges-95-7600": (dataclasses.replace(NVIDIA, name="b", fmin=95.0, fmax=7600.0), 0.06),
    "hansonrobotics-torch-stft": (dataclasses.replace(HANSONROBOTICS, name="c", stft="torch"), 0.09),
    "rayhane-power-1": (dataclasses.replace(RAYHANE, name="d", power=1.0), 0.11),
    "rayhane": (RAYHANE, 0.1),
    "rayhane-asymmetric": (dataclasses.replace(RAYHANE, name="e", normalization="asymmetric"), 0.1),
    "hansonrobotics": (HANSONROBOTICS, 0.1),
}
# the band mapping alone: power-2 spectra, other windows and lws's window leave more
UNCORRECTED = {"rayhane": (RAYHANE, 0.145), "hansonrobotics": (HANSONROBOTICS, 0.17)}


def conversion_error(fmt: MelFormat, clip: str, learned: bool = True) -> float:
    audio, _ = read_audio(WAVS / f"{clip}.flac")
    reference = compute_mel(audio, NVIDIA)
    converted = convert_mel(compute_mel(audio, fmt), fmt, NVIDIA, learned=learned)
    n = min(reference.shape[1], converted.shape[1])
    assert abs(reference.shape[1] - converted.shape[1]) <= 2
    mask = (reference[:, :n] > source_floor(fmt, NVIDIA)) & inside_source_bands(fmt, NVIDIA)[:, None]
    return float((converted[:, :n] - reference[:, :n]).abs()[mask].mean())


@pytest.mark.parametrize("case", list(CASES))
def test_conversion_to_nvidia_on_real_speech(case):
    fmt, bound = CASES[case]
    errors = [conversion_error(fmt, clip) for clip in CLIPS]
    assert max(errors) <= bound, f"{case}: {errors}"


@pytest.mark.parametrize("case", list(UNCORRECTED))
def test_band_mapping_alone_on_real_speech(case):
    fmt, bound = UNCORRECTED[case]
    errors = [conversion_error(fmt, clip, learned=False) for clip in CLIPS]
    assert max(errors) <= bound, f"{case}: {errors}"


def test_corrections_are_bundled_for_the_presets_only():
    for fmt in (RAYHANE, HANSONROBOTICS, dataclasses.replace(RAYHANE, name="x", normalization="asymmetric")):
        correction = find_correction(fmt, NVIDIA)
        assert correction is not None and "held-out" in correction.info
    assert find_correction(dataclasses.replace(RAYHANE, name="y", hop_length=256), NVIDIA) is None
    assert find_correction(NVIDIA, RAYHANE) is None


def test_correction_round_trips_through_safetensors(tmp_path):
    torch.manual_seed(0)
    net = CorrectionNet(80, context=1, hidden=16)
    correction = MelCorrection(RAYHANE, NVIDIA, net.eval(), info="test")
    correction.save(tmp_path / "c.safetensors")
    loaded = MelCorrection.load(tmp_path / "c.safetensors")
    mel = torch.randn(80, 30) - 5
    assert loaded.source == RAYHANE and loaded.info == "test"
    assert torch.allclose(loaded.apply(mel), correction.apply(mel), atol=1e-6)
    assert not torch.allclose(correction.apply(mel), mel)  # it does something
    assert torch.allclose(correction.apply(mel[None])[0], correction.apply(mel), atol=1e-6)


def test_identity_is_exact():
    mel = torch.randn(80, 20)
    assert convert_mel(mel, NVIDIA, NVIDIA) is mel


def test_round_trip_nvidia_to_rayhane_and_back():
    audio, _ = read_audio(WAVS / "LJ037-0003.flac")
    nvidia = compute_mel(audio)
    back = convert_mel(convert_mel(nvidia, NVIDIA, RAYHANE), RAYHANE, NVIDIA)
    n = min(back.shape[1], nvidia.shape[1])
    inside = inside_source_bands(RAYHANE, NVIDIA)
    loud = nvidia[inside, :n] > -4.0  # above the power-2 dB floor
    # measured 0.102 (0.163 with the band mapping alone)
    assert float((back[inside, :n] - nvidia[inside, :n]).abs()[loud].mean()) < 0.12


def test_frame_rate_and_batch():
    mel = compute_mel(torch.randn(2, 22050) * 0.1, RAYHANE)  # hop 275: 81 frames per second
    out = convert_mel(mel, RAYHANE, NVIDIA)
    assert out.shape == (2, 80, round(mel.shape[-1] * 275 / 256))
    assert torch.allclose(out[1], convert_mel(mel[1], RAYHANE, NVIDIA), atol=1e-5)


def test_other_band_counts():
    fmt = dataclasses.replace(NVIDIA, name="m40", n_mels=40)
    audio, _ = read_audio(WAVS / "LJ037-0003.flac")
    out = convert_mel(compute_mel(audio, fmt), fmt, NVIDIA)
    assert out.shape == compute_mel(audio).shape
    assert conversion_error(fmt, "LJ037-0003") < 0.25  # measured 0.208: 40 bands carry less detail
