"""The command line end to end, and every user error giving one line, exit code 2 and no output file."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from tts_pipeline.cli import main


def run(*args: str) -> tuple[int, str, str]:
    """Run the CLI in-process; return (exit code, stdout, stderr)."""
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        else:
            code = 0
    return code, out.getvalue(), err.getvalue()


def assert_user_error(code: int, err: str, needle: str) -> None:
    assert code == 2, err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, err  # one line, no traceback
    assert lines[0].startswith("error: ") and needle in lines[0], lines[0]
    assert "Traceback" not in err


def test_mel_then_vocode(tmp_path, speech_clip, tiny_waveglow_file):
    code, _, err = run("mel", str(speech_clip), "-o", str(tmp_path / "speech.npy"))
    assert code == 0, err
    mel = np.load(tmp_path / "speech.npy")
    n = sf.info(speech_clip).frames
    assert mel.shape == (80, 1 + n // 256) and mel.dtype == np.float32
    code, _, err = run(
        "vocode",
        str(tmp_path / "speech.npy"),
        "--checkpoint",
        str(tiny_waveglow_file),
        "--seed",
        "1",
        "-o",
        str(tmp_path / "speech.wav"),
    )
    assert code == 0, err
    info = sf.info(tmp_path / "speech.wav")
    assert info.samplerate == 22050 and info.subtype == "PCM_16" and info.frames == mel.shape[1] * 256
    assert sorted(p.name for p in tmp_path.iterdir()) == ["speech.npy", "speech.wav"]  # no temp files left


def test_vocode_is_reproducible_with_a_seed_and_writes_npy(tmp_path, tiny_waveglow_file):
    mel = np.random.default_rng(0).uniform(-8, 0, (80, 20)).astype(np.float32)
    np.save(tmp_path / "m.npy", mel)
    ckpt = str(tiny_waveglow_file)
    for name in ("a.npy", "b.npy"):
        assert (
            run("vocode", str(tmp_path / "m.npy"), "--checkpoint", ckpt, "--seed", "7", "-o", str(tmp_path / name))[0]
            == 0
        )
    a, b = np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy")
    assert a.dtype == np.float32 and a.shape == (20 * 256,)
    assert np.array_equal(a, b)
    run("vocode", str(tmp_path / "m.npy"), "--checkpoint", ckpt, "--seed", "8", "-o", str(tmp_path / "c.npy"))
    assert not np.array_equal(a, np.load(tmp_path / "c.npy"))


def test_vocode_several_inputs_and_layouts(tmp_path, tiny_waveglow_file):
    mels = tmp_path / "mels"
    mels.mkdir()
    mel = np.random.default_rng(1).uniform(-8, 0, (80, 12)).astype(np.float32)
    np.save(mels / "one.npy", mel)
    np.save(mels / "two.npy", mel.T)  # frames first: detected
    torch.save(torch.from_numpy(mel), mels / "three.pt")
    code, _, err = run(
        "vocode",
        str(mels),
        "--checkpoint",
        str(tiny_waveglow_file),
        "--seed",
        "0",
        "--sigma",
        "0",
        "--denoiser-strength",
        "0",
        "-o",
        str(tmp_path / "out"),
        "--ext",
        "flac",
    )
    assert code == 0, err
    outs = {p.name: sf.read(p)[0] for p in (tmp_path / "out").iterdir()}
    assert sorted(outs) == ["one.flac", "three.flac", "two.flac"]
    assert np.array_equal(outs["one.flac"], outs["two.flac"]) and np.array_equal(outs["one.flac"], outs["three.flac"])


def test_convert_and_plugins(tmp_path, tiny_waveglow_file):
    code, _, err = run("convert", str(tiny_waveglow_file), "-o", str(tmp_path / "copy.safetensors"))
    assert code == 0, err
    assert "waveglow" in err
    code, out, _ = run("plugins")
    assert code == 0 and "waveglow" in out and "register_vocoders" in out


def test_convert_of_a_damaged_waveglow_gives_the_waveglow_reason_alone(tmp_path, tiny_waveglow_file):
    """The Tacotron2 stage's "this is a WaveGlow" adds nothing when the WaveGlow stage says what is wrong."""
    from tts_pipeline.weights import load_model_file

    _, _, state = load_model_file(tiny_waveglow_file)
    state = {key: torch.zeros_like(value) if key.startswith("convinv.0.") else value for key, value in state.items()}
    torch.save(state, tmp_path / "singular.pt")
    code, _, err = run("convert", str(tmp_path / "singular.pt"), "-o", str(tmp_path / "out.safetensors"))
    assert_user_error(code, err, "the convinv weight of flow 0 is singular")
    assert "tacotron2" not in err and "looks like a WaveGlow" not in err


def test_denoiser_changes_the_audio(tmp_path, tiny_waveglow_file):
    mel = np.random.default_rng(2).uniform(-8, 0, (80, 16)).astype(np.float32)
    np.save(tmp_path / "m.npy", mel)
    ckpt = str(tiny_waveglow_file)
    run(
        "vocode",
        str(tmp_path / "m.npy"),
        "--checkpoint",
        ckpt,
        "--seed",
        "1",
        "--denoiser-strength",
        "0",
        "-o",
        str(tmp_path / "plain.npy"),
    )
    run(
        "vocode",
        str(tmp_path / "m.npy"),
        "--checkpoint",
        ckpt,
        "--seed",
        "1",
        "--denoiser-strength",
        "0.5",
        "-o",
        str(tmp_path / "denoised.npy"),
    )
    plain, denoised = np.load(tmp_path / "plain.npy"), np.load(tmp_path / "denoised.npy")
    assert plain.shape == denoised.shape and not np.allclose(plain, denoised)


# --- user errors: one line, exit 2, no output left behind ---------------------------------------


@pytest.fixture
def good_mel(tmp_path) -> Path:
    path = tmp_path / "good.npy"
    np.save(path, np.random.default_rng(0).uniform(-8, 0, (80, 10)).astype(np.float32))
    return path


def _bad_mel(tmp_path, array) -> Path:
    path = tmp_path / "bad.npy"
    np.save(path, array)
    return path


@pytest.mark.parametrize(
    "make, needle",
    [
        (lambda t: _bad_mel(t, np.zeros((81, 10), np.float32)), "neither axis has 80"),
        (lambda t: _bad_mel(t, np.zeros((80, 0), np.float32)), "frames"),
        (lambda t: _bad_mel(t, np.full((80, 10), np.nan, np.float32)), "NaN"),
        (lambda t: _bad_mel(t, np.full((80, 10), np.inf, np.float32)), "Inf"),
        (lambda t: t / "missing.npy", "not found"),
    ],
)
def test_bad_mels(tmp_path, tiny_waveglow_file, make, needle):
    src = make(tmp_path)
    out = tmp_path / "out.wav"
    code, _, err = run("vocode", str(src), "--checkpoint", str(tiny_waveglow_file), "-o", str(out))
    assert_user_error(code, err, needle)
    assert not out.exists()


@pytest.mark.parametrize(
    "content, needle",
    [
        (None, "not found"),
        (b"", "empty"),
        (b"hello, I am not a checkpoint", "cannot read"),
    ],
)
def test_bad_checkpoints(tmp_path, good_mel, content, needle):
    ckpt = tmp_path / "ckpt.pt"
    if content is not None:
        ckpt.write_bytes(content)
    out = tmp_path / "out.wav"
    code, _, err = run("vocode", str(good_mel), "--checkpoint", str(ckpt), "-o", str(out))
    assert_user_error(code, err, needle)
    assert not out.exists()


def test_truncated_checkpoint(tmp_path, good_mel, tiny_waveglow_file):
    data = tiny_waveglow_file.read_bytes()
    ckpt = tmp_path / "half.safetensors"
    ckpt.write_bytes(data[: len(data) // 2])
    code, _, err = run("vocode", str(good_mel), "--checkpoint", str(ckpt), "-o", str(tmp_path / "o.wav"))
    assert_user_error(code, err, "truncated")


def test_checkpoint_that_does_not_fit(tmp_path, good_mel):
    torch.save({"state_dict": {"WN.0.start.weight": torch.zeros(3, 3)}}, tmp_path / "odd.pt")
    code, _, err = run("vocode", str(good_mel), "--checkpoint", str(tmp_path / "odd.pt"), "-o", str(tmp_path / "o.wav"))
    assert_user_error(code, err, "odd.pt")


def test_other_user_errors(tmp_path, good_mel, tiny_waveglow_file):
    ckpt = str(tiny_waveglow_file)
    assert_user_error(
        *run("vocode", str(good_mel), "--vocoder", "nope", "-o", str(tmp_path / "o.wav"))[::2], "unknown vocoder 'nope'"
    )
    assert_user_error(
        *run("vocode", str(good_mel), "--checkpoint", ckpt, "-o", str(tmp_path / "o.mp4"))[::2],
        "unknown extension .mp4",
    )
    assert_user_error(
        *run("vocode", str(good_mel), "--checkpoint", ckpt, "-o", str(tmp_path / "no" / "dir" / "o.wav"))[::2],
        "does not exist",
    )
    assert_user_error(
        *run("vocode", str(good_mel), "--checkpoint", ckpt, "--sigma", "-1", "-o", str(tmp_path / "o.wav"))[::2],
        "sigma",
    )
    assert_user_error(
        *run(
            "vocode",
            str(good_mel),
            "--checkpoint",
            ckpt,
            "--dtype",
            "fp16",
            "--device",
            "cpu",
            "-o",
            str(tmp_path / "o.wav"),
        )[::2],
        "fp16 needs a CUDA GPU",
    )
    cfg = tmp_path / "p.toml"
    cfg.write_text('[vocoder]\nname = "waveglow"\nsigmaa = 0.5\n')
    assert_user_error(
        *run("vocode", str(good_mel), "--config", str(cfg), "--checkpoint", ckpt, "-o", str(tmp_path / "o.wav"))[::2],
        "sigmaa",
    )
    no_voice = run("vocode", str(good_mel), "--voice", "none", "-o", str(tmp_path / "o.wav"))
    assert_user_error(*no_voice[::2], "no WaveGlow checkpoint")
    assert_user_error(
        *run("vocode", str(good_mel), "--voice", "x", "-o", str(tmp_path / "o.wav"))[::2], "unknown voice"
    )
    assert not (tmp_path / "o.wav").exists()


def test_console_script_exit_code_and_no_traceback(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "tts_pipeline", "vocode", str(tmp_path / "x.npy"), "-o", str(tmp_path / "y.wav")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr


def test_vocode_a_rayhane_output_folder(tmp_path, speech_clip, tiny_waveglow_file):
    from tts_pipeline.audio.formats import RAYHANE
    from tts_pipeline.audio.io import read_audio
    from tts_pipeline.audio.mel import compute_mel

    audio, _ = read_audio(speech_clip)
    mel = compute_mel(audio[:22050], RAYHANE).T.numpy()  # [frames, 80], as those models save
    evals = tmp_path / "tacotron_output" / "eval"
    evals.mkdir(parents=True)
    np.save(evals / "mel-batch_0_sentence_0.npy", mel)
    np.save(evals / "mel-batch_0_sentence_1.npy", mel[:40])
    np.save(evals / "stray.npy", mel)  # not listed in map.txt: not vocoded
    (evals / "map.txt").write_text(
        "Eyewitnesses|tacotron_output/eval/mel-batch_0_sentence_0.npy|0\n"
        "Second one|tacotron_output/eval/mel-batch_0_sentence_1.npy|0\n"
    )
    out = tmp_path / "wavs"
    code, _, err = run(
        "vocode", str(evals), "--mel-format", "rayhane", "--checkpoint", str(tiny_waveglow_file), "-o", str(out)
    )
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == [
        "map.txt",
        "mel-batch_0_sentence_0.wav",
        "mel-batch_0_sentence_1.wav",
    ]
    assert (out / "map.txt").read_text().splitlines()[0] == "Eyewitnesses|mel-batch_0_sentence_0.wav|0"
    frames = round(mel.shape[0] * 275 / 256)  # hop 275 -> 256
    assert sf.info(out / "mel-batch_0_sentence_0.wav").frames == frames * 256


def test_rayhane_mel_given_as_nvidia_is_refused(tmp_path, speech_clip, tiny_waveglow_file):
    from tts_pipeline.audio.formats import HANSONROBOTICS
    from tts_pipeline.audio.io import read_audio
    from tts_pipeline.audio.mel import compute_mel

    audio, _ = read_audio(speech_clip)
    np.save(tmp_path / "m.npy", compute_mel(audio, HANSONROBOTICS).T.numpy())
    code, _, err = run(
        "vocode", str(tmp_path / "m.npy"), "--checkpoint", str(tiny_waveglow_file), "-o", str(tmp_path / "o.wav")
    )
    assert_user_error(code, err, "--mel-format rayhane")
    code, _, err = run(
        "vocode",
        str(tmp_path / "m.npy"),
        "--checkpoint",
        str(tiny_waveglow_file),
        "--force-format",
        "-o",
        str(tmp_path / "o.wav"),
    )
    assert code == 0, err
    code, _, err = run(
        "vocode",
        str(tmp_path / "m.npy"),
        "--checkpoint",
        str(tiny_waveglow_file),
        "--mel-format",
        "hansonrobotics",
        "-o",
        str(tmp_path / "p.wav"),
    )
    assert code == 0, err


def test_formats_command_lists_presets():
    code, out, _ = run("formats", "-v")
    assert code == 0 and "hansonrobotics" in out and "hop_length = 275" in out


def test_unwritable_output_and_unreadable_input(tmp_path, good_mel, tiny_waveglow_file):
    blocker = tmp_path / "file.txt"
    blocker.write_text("a file, not a folder")
    code, _, err = run("vocode", str(good_mel), "--checkpoint", str(tiny_waveglow_file), "-o", str(blocker / "o.wav"))
    assert_user_error(code, err, "cannot write")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_user_error(*run("vocode", str(empty), "-o", str(tmp_path / "x.wav"))[::2], "holds no mel files")
    assert_user_error(*run("mel", str(good_mel), "-o", str(tmp_path / "x.npy"))[::2], "cannot read audio")


# --- found by a black-box audit of the commands (2026-11-28) ----------------------------------


def test_an_output_that_is_an_input_is_refused(tmp_path, good_mel, tiny_waveglow_file):
    before = good_mel.read_bytes()
    ckpt = str(tiny_waveglow_file)
    same = run("vocode", str(good_mel), "--checkpoint", ckpt, "-o", str(good_mel))
    assert_user_error(*same[::2], "is the input")
    into_own_folder = run("vocode", str(tmp_path), "--checkpoint", ckpt, "--ext", "npy", "-o", str(tmp_path) + "/")
    assert_user_error(*into_own_folder[::2], "is the input")
    assert good_mel.read_bytes() == before
    copy = tmp_path / "w.safetensors"
    copy.write_bytes(tiny_waveglow_file.read_bytes())
    assert_user_error(*run("convert", str(copy), "-o", str(copy))[::2], "is the input")
    assert copy.read_bytes() == tiny_waveglow_file.read_bytes()


@pytest.mark.parametrize("content", [b"\xff" * 64, b"not a checkpoint, only text"])
def test_a_safetensors_file_that_is_not_one(tmp_path, good_mel, content):
    ckpt = tmp_path / "bad.safetensors"
    ckpt.write_bytes(content)
    out = tmp_path / "o.wav"
    code, _, err = run("vocode", str(good_mel), "--checkpoint", str(ckpt), "-o", str(out))
    assert_user_error(code, err, "not a safetensors checkpoint")
    # every model gives the same reason, so convert says it once
    code, _, err = run("convert", str(ckpt), "-o", str(tmp_path / "c.safetensors"))
    assert_user_error(code, err, "not a safetensors checkpoint")
    assert err.count("bad.safetensors: not a") == 1
    assert not out.exists()


def test_a_pickle_of_an_old_protocol_gives_one_line(tmp_path, good_mel):
    import pickle

    ckpt = tmp_path / "old.pt"
    ckpt.write_bytes(pickle.dumps({"a": 1}, protocol=4))
    # a process of its own: pytest would catch the warning torch prints before the error
    proc = subprocess.run(
        [sys.executable, "-m", "tts_pipeline", "vocode", str(good_mel), "--checkpoint", str(ckpt), "-o", "o.wav"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert_user_error(proc.returncode, proc.stderr, "cannot read checkpoint")  # and no torch warning before it


def test_option_errors_are_one_line(tmp_path, good_mel):
    assert_user_error(*run("vocode", str(good_mel), "--sigma", "abc", "-o", str(tmp_path / "o.wav"))[::2], "--sigma")
    assert_user_error(*run("vocode", str(good_mel))[::2], "Missing option")
    assert_user_error(*run("nosuchcommand")[::2], "No such command")
    huge_seed = run("vocode", str(good_mel), "--seed", str(2**70), "-o", str(tmp_path / "o.wav"))
    assert_user_error(*huge_seed[::2], "seed must lie between")
    too_long = run("vocode", str(good_mel), "--voice", "none", "-o", str(tmp_path / ("x" * 300 + ".wav")))
    assert_user_error(*too_long[::2], "too long")


@pytest.mark.parametrize("pause", ["nan", "inf", "1e9", "-1"])
def test_say_refuses_a_bad_pause_before_speaking(tmp_path, pause):
    out = tmp_path / "o.wav"
    assert_user_error(*run("say", "Hi.", "--pause", pause, "-o", str(out))[::2], "--pause")
    assert not out.exists()


@pytest.mark.parametrize("plot, needle", [("p.jpg", "must end in .png"), ("no/dir/p.png", "does not exist")])
def test_say_checks_the_plot_path_before_writing_audio(tmp_path, plot, needle):
    pytest.importorskip("matplotlib")
    out = tmp_path / "o.wav"
    code, _, err = run("say", "Hi.", "--vocoder", "griffin-lim", "--plot", str(tmp_path / plot), "-o", str(out))
    assert code == 2 and needle in err.strip().splitlines()[-1], err
    assert not out.exists()


def test_nan_weights_give_an_error_not_silent_audio(tmp_path, good_mel, tiny_waveglow_file):
    from safetensors.torch import load_file, safe_open, save_file

    with safe_open(str(tiny_waveglow_file), framework="pt") as fh:
        metadata = fh.metadata()
    state = {k: torch.full_like(v, float("nan")) for k, v in load_file(str(tiny_waveglow_file)).items()}
    broken = tmp_path / "nan.safetensors"
    save_file(state, str(broken), metadata=metadata)
    out = tmp_path / "o.wav"
    code, _, err = run("vocode", str(good_mel), "--checkpoint", str(broken), "-o", str(out))
    assert_user_error(code, err, "NaN or Inf samples")
    assert not out.exists()


def test_a_huge_sigma_is_refused(tmp_path, good_mel, tiny_waveglow_file):
    code, _, err = run(
        "vocode", str(good_mel), "--checkpoint", str(tiny_waveglow_file), "--sigma", "1e308", "-o", "x.wav"
    )
    assert_user_error(code, err, "sigma must lie between 0 and 4")


def test_a_killed_say_leaves_no_partial_file(tmp_path):
    import signal
    import time

    text = " ".join(["This sentence is one of many that keep the voice busy for a while."] * 40)
    proc = subprocess.Popen(
        [sys.executable, "-m", "tts_pipeline", "say", "-", "--vocoder", "griffin-lim", "-o", "long.wav"],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    proc.stdin.write(text)
    proc.stdin.close()
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".long.wav.*")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)  # until the first sentence is being written
    assert list(tmp_path.glob(".long.wav.*")), "the temporary output never appeared"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 130, proc.stderr.read()
    assert "aborted" in proc.stderr.read()
    assert list(tmp_path.iterdir()) == []


def test_a_bare_command_prints_its_help_not_an_error_line():
    code, out, err = run()
    assert code == 2 and "Usage: tts-pipeline" in out + err and "Commands:" in out + err
    assert not (out + err).startswith("error:")


def test_a_huge_denoiser_strength_is_refused(tmp_path, good_mel, tiny_waveglow_file):
    args = ("vocode", str(good_mel), "--checkpoint", str(tiny_waveglow_file), "-o", str(tmp_path / "o.wav"))
    assert_user_error(*run(*args, "--denoiser-strength", "1e308")[::2], "denoiser_strength must lie between 0 and 1")


def test_say_uses_the_acoustic_model_its_config_names(tmp_path):
    cfg = tmp_path / "p.toml"
    cfg.write_text('[acoustic]\nname = "nosuch"\n')
    code, _, err = run("say", "Hi.", "--config", str(cfg), "--vocoder", "griffin-lim", "-o", str(tmp_path / "o.wav"))
    assert code == 2 and "unknown acoustic model 'nosuch'" in err


def test_a_single_input_into_a_new_folder_named_with_a_slash(tmp_path, good_mel, tiny_waveglow_file):
    out = str(tmp_path / "new") + "/"
    code, _, err = run("vocode", str(good_mel), "--checkpoint", str(tiny_waveglow_file), "-o", out)
    assert code == 0, err
    assert [p.name for p in (tmp_path / "new").iterdir()] == [f"{good_mel.stem}.wav"]


def test_two_inputs_of_one_name_are_refused_before_the_folder_is_made(tmp_path, good_mel, tiny_waveglow_file):
    (tmp_path / "b").mkdir()
    twin = tmp_path / "b" / good_mel.name
    twin.write_bytes(good_mel.read_bytes())
    out = tmp_path / "out"
    code, _, err = run("vocode", str(good_mel), str(twin), "--checkpoint", str(tiny_waveglow_file), "-o", str(out))
    assert_user_error(code, err, "same file name")
    assert not out.exists()
