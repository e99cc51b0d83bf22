"""Mel format presets, user-described formats, and the guards that refuse mels of the wrong format."""

import dataclasses
import json
import re

import pytest
import torch

from tts_pipeline.audio.format_files import load_format_file, parse_hparams_string, resolve_format
from tts_pipeline.audio.formats import HANSONROBOTICS, NVIDIA, PRESETS, RAYHANE, MelFormat
from tts_pipeline.audio.guards import check_mel
from tts_pipeline.errors import ConfigError, MelError
from tts_pipeline.plugins import get_registry


def test_presets_follow_the_formats_table():
    assert (RAYHANE.n_fft, RAYHANE.hop_length, RAYHANE.win_length) == (2048, 275, 1100)
    assert (RAYHANE.fmin, RAYHANE.fmax, RAYHANE.power, RAYHANE.preemphasis) == (55.0, 7600.0, 2.0, 0.0)
    assert (HANSONROBOTICS.n_fft, HANSONROBOTICS.hop_length, HANSONROBOTICS.win_length) == (1024, 256, 1024)
    assert (HANSONROBOTICS.fmin, HANSONROBOTICS.preemphasis, HANSONROBOTICS.stft) == (95.0, 0.97, "lws")
    for fmt in (RAYHANE, HANSONROBOTICS):
        assert (fmt.min_level_db, fmt.ref_level_db, fmt.max_abs_value) == (-100.0, 20.0, 4.0)
        assert fmt.normalization == "symmetric" and fmt.layout == "frames_first"
    assert {"nvidia", "rayhane", "hansonrobotics"} <= set(get_registry().mel_formats)


def test_hparams_string_describes_the_fork():
    fmt = parse_hparams_string(
        "num_mels=80,n_fft=1024,hop_size=256,win_size=None,fmin=95,fmax=7600,"
        "preemphasize=True,preemphasis=0.97,use_lws=True,magnitude_power=1"
    )
    ignore = {"name", "description", "pad_mode"}
    differs = [f.name for f in dataclasses.fields(fmt) if getattr(fmt, f.name) != getattr(HANSONROBOTICS, f.name)]
    assert set(differs) <= ignore


def test_format_files_in_both_namings(tmp_path):
    toml = tmp_path / "mine.toml"
    toml.write_text("num_mels = 80\nhop_size = 200\nsample_rate = 16000\nsymmetric_mels = false\n")
    fmt = load_format_file(toml)
    assert fmt.name == "mine" and fmt.hop_length == 200 and fmt.sample_rate == 16000
    assert fmt.normalization == "asymmetric" and fmt.compression == "db"
    js = tmp_path / "nv.json"
    js.write_text(json.dumps({"n_mels": 80, "fmax": 8000.0, "compression": "ln"}))
    assert load_format_file(js).compression == "ln"
    assert resolve_format(str(js), get_registry().mel_formats).name == "nv"
    assert resolve_format("hop_size=300", {}).hop_length == 300


@pytest.mark.parametrize(
    "make, needle",
    [
        (lambda p: p.write_text("num_melz = 80\n"), "num_melz"),
        (lambda p: p.write_text("hop_size = 'x'\n"), "hop_length"),
        (lambda p: p.write_text("not toml ["), "not valid"),
    ],
)
def test_bad_format_files(tmp_path, make, needle):
    path = tmp_path / "bad.toml"
    make(path)
    with pytest.raises(ConfigError, match=needle):
        load_format_file(path)


def test_missing_format_file_names_it_once(tmp_path):
    with pytest.raises(ConfigError, match="^mel format file not found: "):
        load_format_file(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    "spec, needle",
    [
        ("hop_size=0", "hop_length must be > 0"),
        ("num_mels=-3", "n_mels must be > 0"),
        ("n_fft=0", "n_fft must be > 0"),
        ("sample_rate=0", "sample_rate must be > 0"),
        ("n_fft=16,win_length=1024", "win_length must be between 1 and n_fft (16)"),
        ("win_size=0", "win_length must be between 1"),
        ("fmin=-1", "fmin must be >= 0"),
        ("fmin=8000,fmax=7600", "fmin must be >= 0 and below fmax (7600 Hz)"),
        ("fmax=12000", "fmax must be > 0 and at most half the sample rate (11025 Hz)"),
        ("sample_rate=8000", "fmax must be > 0 and at most half the sample rate (4000 Hz), not 7600"),
        ("magnitude_power=0", "power must be > 0"),
        ("magnitude_power=nan", "power must be a finite number"),
        ("fmax=inf", "fmax must be a finite number"),
        ("preemphasis=1.5", "preemphasis must be >= 0 and below 1"),
        ("min_level_db=0", "min_level_db must be < 0"),
        ("max_abs_value=0", "max_abs_value must be > 0"),
    ],
)
def test_format_numbers_are_checked(tmp_path, spec, needle):
    with pytest.raises(ConfigError, match=re.escape(needle)) as caught:
        parse_hparams_string(spec)
    assert "\n" not in str(caught.value) and str(caught.value).startswith("mel format 'hparams': ")
    key, _, value = spec.partition(",")[0].partition("=")
    if "," not in spec and value not in ("nan", "inf"):
        (tmp_path / "bad.toml").write_text(f"{key} = {value}\n")
        with pytest.raises(ConfigError, match=re.escape(needle)):
            load_format_file(tmp_path / "bad.toml")


def test_formats_made_in_code_are_checked_too():
    assert all(fmt.name for fmt in PRESETS)  # the presets pass their own checks
    assert MelFormat(name="nyquist", fmax=None, sample_rate=16000).top_frequency == 8000
    with pytest.raises(ConfigError, match="hop_length must be > 0"):
        MelFormat(name="x", hop_length=0)
    with pytest.raises(ConfigError, match="log_floor must be > 0"):
        MelFormat(name="x", log_floor=0.0)
    with pytest.raises(ConfigError, match="n_mels must be a whole number"):
        MelFormat(name="x", n_mels="80")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="hop_length must be > 0"):
        dataclasses.replace(NVIDIA, hop_length=-256)


def test_unknown_format_name():
    with pytest.raises(ConfigError, match="unknown mel format 'nope'"):
        resolve_format("nope", get_registry().mel_formats)
    with pytest.raises(ConfigError, match="key=value"):
        parse_hparams_string("num_mels")


def test_guards():
    nvidia_like = torch.rand(80, 50) * -10
    check_mel(nvidia_like, NVIDIA)
    rayhane_like = torch.rand(80, 50) * 8 - 4
    with pytest.raises(MelError, match="Rayhane-style.*--mel-format rayhane"):
        check_mel(rayhane_like, NVIDIA)
    check_mel(rayhane_like, NVIDIA, force=True)
    check_mel(rayhane_like, RAYHANE)
    with pytest.raises(MelError, match="NVIDIA"):
        check_mel(nvidia_like, RAYHANE)
    with pytest.raises(MelError, match="1025 bands.*linear spectrogram"):
        check_mel(torch.zeros(1025, 5), NVIDIA, force=True)
    for bad, needle in [(torch.zeros(80, 0), "zero frames"), (torch.full((80, 3), float("nan")), "NaN")]:
        with pytest.raises(MelError, match=needle):
            check_mel(bad, NVIDIA, force=True)


@pytest.mark.parametrize(
    "fields, needle",
    [
        ({"compression": "log10"}, "compression must be one of 'ln', 'db', not 'log10'"),
        ({"pad_mode": "wrap"}, "pad_mode must be one of"),
        ({"layout": "auto"}, "layout must be one of 'bands_first', 'frames_first'"),
        ({"n_mels": 80.5}, "n_mels must be a whole number, not 80.5"),
        ({"hop_length": 256.0}, "hop_length must be a whole number"),
        ({"center": "no"}, "center must be true or false"),
    ],
)
def test_a_mel_format_made_in_code_is_checked_like_a_file(fields, needle):
    with pytest.raises(ConfigError, match=needle):
        MelFormat(name="x", **fields)


def test_compute_and_convert_mel_refuse_what_is_not_audio_or_a_mel():
    from tts_pipeline.audio.convert import convert_mel
    from tts_pipeline.audio.mel import compute_mel

    audio = torch.rand(4000) - 0.5
    mel = compute_mel(audio.numpy())  # numpy is fine
    assert mel.shape == (80, 1 + 4000 // 256)
    for bad, error, needle in [
        (lambda: compute_mel(audio, "nvidia"), ConfigError, "fmt must be a MelFormat"),
        (lambda: compute_mel(audio[None, None]), MelError, r"audio \[L\] or a batch \[B, L\]"),
        (lambda: compute_mel(audio * 32767), MelError, "looks like 16-bit PCM values"),
        (lambda: compute_mel((audio * 32767).short()), MelError, "int16 values"),
        (lambda: compute_mel(torch.full((100,), float("nan"))), MelError, "NaN or Inf"),
        (lambda: convert_mel(mel, "nvidia", "rayhane"), ConfigError, "src must be a MelFormat"),
        (lambda: convert_mel(mel[:40], NVIDIA, RAYHANE), MelError, r"\[80, T\].*not shape \[40, 16\]"),
        (lambda: convert_mel(mel[:, :0], NVIDIA, RAYHANE), MelError, "T >= 1"),
        (lambda: convert_mel(mel * float("nan"), NVIDIA, RAYHANE), MelError, "NaN or Inf"),
    ]:
        with pytest.raises(error, match=needle):
            bad()
    assert convert_mel(mel.numpy(), NVIDIA, RAYHANE).shape[0] == 80
