"""The NVIDIA mel (FORMATS.md section 1) against an independent librosa/NumPy computation on real speech."""

from pathlib import Path

import numpy as np
import pytest
import torch

from tts_pipeline.audio.filterbank import hz_to_mel, mel_filterbank, mel_to_hz
from tts_pipeline.audio.formats import HANSONROBOTICS, NVIDIA, RAYHANE, MelFormat
from tts_pipeline.audio.io import read_audio
from tts_pipeline.audio.mel import MelSpectrogram, compute_mel
from tts_pipeline.errors import MelError

librosa = pytest.importorskip("librosa")  # a test extra; the GPU machine may lack it

WAVS = Path(__file__).parent / "data" / "joe-lj" / "wavs"
CLIPS = ["LJ016-0020", "LJ037-0003", "LJ029-0032"]


def reference_nvidia_mel(audio: np.ndarray) -> np.ndarray:
    """FORMATS.md section 1 computed with librosa, independently of the project's code."""
    spec = np.abs(
        librosa.stft(audio, n_fft=1024, hop_length=256, win_length=1024, window="hann", center=True, pad_mode="reflect")
    )
    basis = librosa.filters.mel(sr=22050, n_fft=1024, n_mels=80, fmin=0.0, fmax=8000.0, htk=False, norm="slaney")
    return np.log(np.maximum(basis @ spec, 1e-5))


@pytest.mark.parametrize("clip", CLIPS)
def test_nvidia_mel_matches_librosa_on_speech(clip):
    audio, rate = read_audio(WAVS / f"{clip}.flac")
    assert rate == 22050
    ours = compute_mel(audio).numpy()
    ref = reference_nvidia_mel(audio.numpy())
    assert ours.shape == ref.shape == (80, 1 + audio.numel() // 256)
    assert np.abs(ours - ref).max() < 1e-4
    assert ours.min() > -11.6 and ours.max() < 3  # the documented value range


@pytest.mark.parametrize(
    "fmt",
    [
        NVIDIA,
        MelFormat(name="r", n_fft=2048, fmin=55.0, fmax=7600.0),
        MelFormat(name="h", fmin=95.0, fmax=7600.0),
        MelFormat(name="htk", fmax=None, mel_scale="htk", mel_norm="none", n_mels=40),
    ],
)
def test_filterbank_matches_librosa(fmt):
    ours = mel_filterbank(fmt).numpy()
    ref = librosa.filters.mel(
        sr=fmt.sample_rate,
        n_fft=fmt.n_fft,
        n_mels=fmt.n_mels,
        fmin=fmt.fmin,
        fmax=fmt.fmax,
        htk=fmt.mel_scale == "htk",
        norm="slaney" if fmt.mel_norm == "slaney" else None,
    )
    assert ours.shape == ref.shape
    assert np.abs(ours - ref).max() < 1e-6 * max(1.0, ref.max())


def test_mel_scale_round_trip():
    hz = torch.tensor([0.0, 500.0, 1000.0, 4000.0, 11025.0], dtype=torch.float64)
    for scale in ("slaney", "htk"):
        assert torch.allclose(mel_to_hz(hz_to_mel(hz, scale), scale), hz)
    assert float(hz_to_mel(torch.tensor(1000.0))) == pytest.approx(15.0)


def test_frame_count_batch_and_module_agree():
    audio = torch.randn(2, 5000) * 0.1
    batch = compute_mel(audio)
    assert batch.shape == (2, 80, 1 + 5000 // 256)
    assert torch.allclose(batch[1], compute_mel(audio[1]), atol=1e-6)
    assert torch.allclose(MelSpectrogram()(audio), batch, atol=1e-3)  # float32 module vs float64 path


def test_silence_sits_at_the_floor():
    assert torch.allclose(compute_mel(torch.zeros(2048)), torch.full((80, 9), float(np.log(1e-5))))


@pytest.mark.parametrize("length", [1, 2, 10, 256, 512])
def test_audio_shorter_than_the_stft_padding(length):
    audio = torch.from_numpy(np.random.default_rng(length).standard_normal(length).astype(np.float32) * 0.1)
    ours = compute_mel(audio).numpy()
    with pytest.warns(UserWarning, match="too large"):
        ref = reference_nvidia_mel(audio.numpy())  # librosa reflects as often as needed, like numpy.pad
    assert ours.shape == ref.shape == (80, 1 + length // 256)
    assert np.abs(ours - ref).max() < 1e-4
    assert MelSpectrogram()(audio[None]).shape == (1, 80, 1 + length // 256)
    for fmt in (RAYHANE, HANSONROBOTICS):
        assert torch.isfinite(compute_mel(audio, fmt)).all()


def test_audio_too_short_for_uncentred_frames():
    fmt = MelFormat(name="uncentred", center=False)
    assert compute_mel(torch.zeros(1024), fmt).shape == (80, 1)
    with pytest.raises(MelError, match="audio of 1023 samples is too short .* at least 1024 needed"):
        compute_mel(torch.zeros(1023), fmt)
    with pytest.raises(MelError, match="audio of 0 samples is too short"):
        compute_mel(torch.zeros(0))
