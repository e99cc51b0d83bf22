"""Audio and mel file I/O: formats, layouts, atomic writes, clear errors."""

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from tts_pipeline.audio.io import read_audio, read_mel, to_pcm16, write_audio, write_mel
from tts_pipeline.errors import AudioIOError, CheckpointError, ConfigError, MelError
from tts_pipeline.fileio import atomic_output

from .test_cli import assert_user_error, run

DATA = Path(__file__).parent / "data" / "joe-lj" / "wavs"


def test_read_real_speech_and_resample():
    audio, rate = read_audio(DATA / "LJ037-0003.flac")
    assert rate == 22050 and audio.dtype == torch.float32 and audio.dim() == 1
    assert 0.05 < audio.abs().max() <= 1.0
    down, rate16 = read_audio(DATA / "LJ037-0003.flac", 16000)
    assert rate16 == 16000
    assert abs(down.numel() - round(audio.numel() * 16000 / 22050)) <= 1
    # resampling keeps the signal's energy (band-limited speech)
    assert abs(down.pow(2).mean().item() / audio.pow(2).mean().item() - 1) < 0.1


def test_write_audio_formats(tmp_path):
    samples = torch.linspace(-1.5, 1.5, 1000)
    write_audio(tmp_path / "a.wav", samples, 22050)
    write_audio(tmp_path / "a.flac", samples, 22050)
    write_audio(tmp_path / "a.npy", samples, 22050)
    wav, rate = sf.read(tmp_path / "a.wav", dtype="int16")
    assert rate == 22050 and wav.min() == -32767 and wav.max() == 32767  # clipped, not wrapped
    assert sf.info(tmp_path / "a.flac").subtype == "PCM_16"
    raw = np.load(tmp_path / "a.npy")
    assert raw.dtype == np.float32 and raw.max() == pytest.approx(1.5)  # no clipping or scaling
    assert to_pcm16(np.array([2.0, -2.0, 0.5])).tolist() == [32767, -32767, 16384]


def test_write_audio_errors_leave_nothing(tmp_path):
    with pytest.raises(AudioIOError, match="unknown audio extension"):
        write_audio(tmp_path / "a.mp4", torch.zeros(10), 22050)
    with pytest.raises(AudioIOError, match="does not exist"):
        write_audio(tmp_path / "missing" / "a.wav", torch.zeros(10), 22050)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores folder permissions")
def test_unwritable_folder(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(AudioIOError, match="cannot write"):
            write_audio(locked / "a.wav", torch.zeros(10), 22050)
    finally:
        locked.chmod(0o700)


def test_atomic_output_keeps_old_file_on_failure(tmp_path):
    target = tmp_path / "out.wav"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_output(target) as tmp:
        tmp.write_bytes(b"partial")
        raise RuntimeError("interrupted")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.wav"]


def test_unreadable_audio(tmp_path):
    with pytest.raises(AudioIOError, match="not found"):
        read_audio(tmp_path / "nope.wav")
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF....not really")
    with pytest.raises(AudioIOError, match="cannot read audio"):
        read_audio(bad)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_audio_is_refused(tmp_path, bad):
    samples = np.zeros((2000, 2), np.float32)
    samples[1234, 1] = bad
    sf.write(tmp_path / "bad.wav", samples, 22050, subtype="FLOAT")
    with pytest.raises(AudioIOError, match=r"holds 1 NaN or Inf samples \(the first at sample 1234\)"):
        read_audio(tmp_path / "bad.wav")
    code, _, err = run("mel", str(tmp_path / "bad.wav"), "-o", str(tmp_path / "m.npy"))
    assert_user_error(code, err, "NaN or Inf samples")
    assert not (tmp_path / "m.npy").exists()


def test_mel_command_on_very_short_audio(tmp_path):
    sf.write(tmp_path / "short.wav", np.linspace(-0.5, 0.5, 10, dtype=np.float32), 22050)
    code, _, err = run("mel", str(tmp_path / "short.wav"), "-o", str(tmp_path / "m.npy"))
    assert code == 0, err
    mel = np.load(tmp_path / "m.npy")
    assert mel.shape == (80, 1) and np.isfinite(mel).all()


@pytest.mark.parametrize("ext", [".npy", ".pt"])
@pytest.mark.parametrize("layout", ["bands_first", "frames_first"])
def test_mel_round_trip(tmp_path, ext, layout):
    mel = torch.randn(80, 37)
    path = tmp_path / f"m{ext}"
    write_mel(path, mel, layout)
    assert torch.equal(read_mel(path), mel)  # auto layout
    assert torch.equal(read_mel(path, layout=layout), mel)


def test_mel_layout_errors(tmp_path):
    np.save(tmp_path / "square.npy", np.zeros((80, 80), np.float32))
    with pytest.raises(MelError, match="--layout"):
        read_mel(tmp_path / "square.npy")
    assert read_mel(tmp_path / "square.npy", layout="frames_first").shape == (80, 80)
    np.save(tmp_path / "linear.npy", np.zeros((1025, 40), np.float32))
    with pytest.raises(MelError, match="neither axis has 80"):
        read_mel(tmp_path / "linear.npy")
    np.save(tmp_path / "cube.npy", np.zeros((2, 80, 40), np.float32))
    with pytest.raises(MelError, match="2-D"):
        read_mel(tmp_path / "cube.npy")
    np.save(tmp_path / "batch1.npy", np.zeros((1, 80, 40), np.float32))
    assert read_mel(tmp_path / "batch1.npy").shape == (80, 40)


def test_mel_file_errors(tmp_path):
    (tmp_path / "t.npy").write_text("not numpy")
    with pytest.raises(MelError, match="not a .npy file"):
        read_mel(tmp_path / "t.npy")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(MelError, match="holds Python objects"):
        read_mel(tmp_path / "obj.npy")  # object arrays would need pickle: refused
    np.save(tmp_path / "whole.npy", np.zeros((80, 40), np.float32))
    (tmp_path / "cut.npy").write_bytes((tmp_path / "whole.npy").read_bytes()[:-100])
    with pytest.raises(MelError, match="damaged or truncated"):
        read_mel(tmp_path / "cut.npy")
    np.save(tmp_path / "words.npy", np.array([["a"] * 40] * 80))
    with pytest.raises(MelError, match="a mel is an array of real numbers"):
        read_mel(tmp_path / "words.npy")
    np.save(tmp_path / "complex.npy", np.zeros((80, 40), np.complex64))
    with pytest.raises(MelError, match="a mel is an array of real numbers"):
        read_mel(tmp_path / "complex.npy")
    torch.save({"mel": torch.zeros(80, 3)}, tmp_path / "d.pt")
    with pytest.raises(MelError, match="does not hold a tensor"):
        read_mel(tmp_path / "d.pt")
    (tmp_path / "e.pt").write_bytes(b"")
    with pytest.raises(CheckpointError, match="empty"):
        read_mel(tmp_path / "e.pt")
    with pytest.raises(MelError, match="unknown extension"):
        read_mel(Path(__file__))


def test_atomic_output_gives_ordinary_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        new = tmp_path / "new.wav"
        with atomic_output(new) as tmp:
            tmp.write_bytes(b"x")
        assert new.stat().st_mode & 0o777 == 0o644  # not mkstemp's 0600
        kept = tmp_path / "kept.wav"
        kept.write_bytes(b"old")
        kept.chmod(0o640)
        with atomic_output(kept) as tmp:
            tmp.write_bytes(b"new")
        assert kept.stat().st_mode & 0o777 == 0o640 and kept.read_bytes() == b"new"
    finally:
        os.umask(umask)


@pytest.mark.parametrize(
    "audio, rate, needle",
    [
        (torch.zeros(2, 100), 22050, r"mono \[L\], got shape \[2, 100\]"),
        (np.zeros((100, 2), np.float32), 22050, r"mono \[L\], got shape \[100, 2\]"),
        (torch.tensor([0.0, float("nan")]), 22050, "1 NaN or Inf samples .the first at sample 1."),
        (torch.zeros(0), 22050, "empty"),
        (None, 22050, "must be an array .numpy or torch., not NoneType"),
        (np.zeros(100, np.int16), 22050, "int16 values: give float samples"),
        (torch.zeros(100, dtype=torch.complex64), 22050, "complex64 values"),
        (torch.zeros(100), 0, "sample_rate must be a whole number of Hz from 1 to 768000"),
        (torch.zeros(100), "22050", "sample_rate must be a whole number of Hz from 1 to 768000"),
        (torch.zeros(100), float("nan"), "sample_rate must be a whole number of Hz from 1 to 768000"),
        (torch.zeros(100), 10**12, "sample_rate must be a whole number of Hz from 1 to 768000"),
    ],
)
def test_write_audio_refuses_what_is_not_mono_float_audio(tmp_path, audio, rate, needle):
    out = tmp_path / "o.wav"
    with pytest.raises(AudioIOError, match=needle):
        write_audio(out, audio, rate)
    assert list(tmp_path.iterdir()) == []
    write_audio(out, torch.zeros(1, 100), 22050.0)  # [1, L] and a whole float rate are fine
    assert sf.info(out).frames == 100 and sf.info(out).samplerate == 22050


@pytest.mark.parametrize(
    "mel, options, error, needle",
    [
        (np.full((80, 5), -5, np.complex64), {}, MelError, "complex64 values"),
        (torch.ones(80, 5, dtype=torch.bool), {}, MelError, "bool values"),
        ("speech.npy", {}, MelError, "must be an array .numpy or torch., not str: read a file first"),
        ([[0.0] * 5, [0.0] * 3], {}, MelError, "ragged"),
        (np.full((80, 5), -5, np.float32), {"mel_format": 5}, ConfigError, "mel_format must be a format name"),
        (np.full((80, 5), -5, np.float32), {"seed": "1"}, ConfigError, "seed must be an integer"),
        (np.full((80, 5), -5, np.float32), {"seed": -1}, ConfigError, "seed must lie between 0 and 2..63 - 1"),
    ],
)
def test_vocode_refuses_what_is_not_a_mel(mel, options, error, needle):
    from tts_pipeline.pipeline import Pipeline

    pipeline = Pipeline.from_config({"voice": "none", "vocoder": {"name": "griffin-lim"}, "runtime": {"device": "cpu"}})
    with pytest.raises(error, match=needle):
        pipeline.vocode(mel, **options)


def test_mel_files_and_layouts_are_checked(tmp_path):
    mel = torch.full((80, 5), -5.0)
    for bad, error, needle in [
        (torch.complex(mel, mel), MelError, "complex64 values"),
        (mel > -6, MelError, "bool values"),
    ]:
        torch.save(bad, tmp_path / "m.pt")
        with pytest.raises(error, match=needle):
            read_mel(tmp_path / "m.pt")
    np.save(tmp_path / "sq.npy", np.full((80, 80), -5, np.float32))
    with pytest.raises(ConfigError, match="layout must be auto, bands_first or frames_first, not 'bands-first'"):
        read_mel(tmp_path / "sq.npy", layout="bands-first")
    with pytest.raises(ConfigError, match="layout must be bands_first or frames_first"):
        write_mel(tmp_path / "o.npy", mel, layout="frames-first")
    with pytest.raises(MelError, match="2-D"):
        write_mel(tmp_path / "o.npy", mel[0])
    with pytest.raises(MelError, match="NaN or Inf"):
        write_mel(tmp_path / "o.npy", mel * float("nan"))
    assert not (tmp_path / "o.npy").exists()
    write_mel(tmp_path / "o.npy", mel.numpy())  # numpy is fine
    assert torch.equal(read_mel(tmp_path / "o.npy"), mel)
    write_audio(tmp_path / "a.wav", torch.zeros(100), 22050)
    with pytest.raises(AudioIOError, match="sample_rate must be a whole number of Hz from 1 to 768000"):
        read_audio(tmp_path / "a.wav", 0)
