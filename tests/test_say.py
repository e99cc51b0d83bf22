"""Text to speech end to end: Pipeline.synthesize and `tts-pipeline say` with tiny models."""

import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from tts_pipeline import hookimpl
from tts_pipeline.audio.formats import NVIDIA, RAYHANE
from tts_pipeline.audio.io import read_audio
from tts_pipeline.audio.mel import compute_mel
from tts_pipeline.errors import ConfigError, TextError
from tts_pipeline.pipeline import Pipeline, match_mel
from tts_pipeline.plugins import plugin_registered
from tts_pipeline.stages import AcousticModel, AcousticOutput

WAVS = Path(__file__).parent / "data" / "joe-lj" / "wavs"
FRAMES = 30  # the tiny Tacotron2 never stops on its gate: every sentence is 30 frames
HOP = 256


@pytest.fixture
def pipeline(tiny_tacotron2_file, tiny_waveglow_file) -> Pipeline:
    return Pipeline.from_config(
        {
            "acoustic": {"name": "tacotron2", "checkpoint": str(tiny_tacotron2_file)},
            "vocoder": {"name": "waveglow", "checkpoint": str(tiny_waveglow_file)},
            "runtime": {"device": "cpu", "seed": 0},
        }
    )


def test_synthesize_joins_sentences_with_a_pause(pipeline, caplog):
    with caplog.at_level(logging.WARNING, logger="tts_pipeline"):
        audio = pipeline.synthesize("Hello there. How are you today?", pause=0.5)
    gap = int(0.5 * 22050)
    assert audio.sample_rate == 22050
    assert audio.samples.shape == (2 * FRAMES * HOP + gap,)
    assert torch.all(audio.samples[FRAMES * HOP : FRAMES * HOP + gap] == 0)
    assert "decoder limit" in caplog.text  # the tiny model never stops: the cut is reported


def test_seed_reproduces_and_batching_does_not_change_sentences(tiny_tacotron2_file, tiny_waveglow_file):
    def make(batch_size, seed):
        return Pipeline.from_config(
            {
                "acoustic": {"name": "tacotron2", "checkpoint": str(tiny_tacotron2_file), "batch_size": batch_size},
                "vocoder": {"name": "waveglow", "checkpoint": str(tiny_waveglow_file), "sigma": 0.0},
                "runtime": {"device": "cpu", "seed": seed},
            }
        )

    text = "One. Two words. Three words here."
    a = make(1, 5).synthesize(text).samples
    b = make(3, 5).synthesize(text).samples
    c = make(3, 6).synthesize(text).samples
    assert torch.allclose(a, b, atol=1e-4)
    assert not torch.allclose(a, c, atol=1e-4)  # prenet dropout follows the seed


@pytest.mark.parametrize("text", ["", "   \n\t", "?!...,;", "\U0001f600\U0001f680", "{XX YY}", "{HH AH0"])
def test_unspeakable_text(pipeline, text):
    with pytest.raises(TextError):
        pipeline.synthesize(text)


def test_synthesis_needs_an_acoustic_model(tiny_waveglow_file):
    pipeline = Pipeline.from_config({"vocoder": {"checkpoint": str(tiny_waveglow_file)}, "runtime": {"device": "cpu"}})
    with pytest.raises(ConfigError, match="acoustic"):
        pipeline.synthesize("Hello.")


def test_long_text_streams_in_bounded_batches(pipeline):
    words = " ".join(["word"] * 10_000)
    text = ". ".join(words[i : i + 400] for i in range(0, len(words), 400))
    stream = pipeline.synthesize_stream(text)
    first = next(stream)  # the first sentence arrives without decoding the rest
    assert first.audio.shape == (FRAMES * HOP,)
    assert len(first.text) <= 400
    stream.close()


def run_cli(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "tts_pipeline", *args], capture_output=True, input=stdin, timeout=300)


def test_say_cli_to_file_with_plot(tmp_path, tiny_tacotron2_file, tiny_waveglow_file):
    out, png = tmp_path / "hello.wav", tmp_path / "hello.png"
    proc = run_cli(
        "say",
        "Hello, world. This is a test.",
        "--acoustic-checkpoint",
        str(tiny_tacotron2_file),
        "--checkpoint",
        str(tiny_waveglow_file),
        "--device",
        "cpu",
        "--plot",
        str(png),
        "-o",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr.decode()
    data, rate = sf.read(out)
    assert rate == 22050 and len(data) == 2 * FRAMES * HOP + int(0.25 * 22050)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"decoder limit" in proc.stderr


def test_say_cli_stdin_to_raw_pcm_stdout(tiny_tacotron2_file, tiny_waveglow_file):
    proc = run_cli(
        "say",
        "-",
        "--acoustic-checkpoint",
        str(tiny_tacotron2_file),
        "--checkpoint",
        str(tiny_waveglow_file),
        "--device",
        "cpu",
        "-o",
        "-",
        stdin=b"Words from a pipe.",
    )
    assert proc.returncode == 0, proc.stderr.decode()
    pcm = np.frombuffer(proc.stdout, dtype="<i2")
    assert pcm.size == FRAMES * HOP


def test_say_cli_refuses_stdin_that_is_not_utf8(tmp_path, tiny_tacotron2_file):
    out = tmp_path / "o.wav"
    args = ["say", "-", "--acoustic-checkpoint", str(tiny_tacotron2_file), "--vocoder", "griffin-lim", "-o", str(out)]
    proc = run_cli(*args, stdin="Héllo, wörld.".encode("latin-1"))
    assert proc.returncode == 2
    assert proc.stderr.decode().strip().splitlines()[-1].startswith("error: the text on stdin is not UTF-8 (byte 0xe9")
    assert not out.exists()
    assert run_cli(*args, stdin="Héllo, wörld.".encode()).returncode == 0


def test_say_cli_refuses_a_text_argument_that_is_not_utf8(tmp_path, tiny_tacotron2_file):
    out = tmp_path / "o.wav"
    flags = ["--acoustic-checkpoint", str(tiny_tacotron2_file), "--vocoder", "griffin-lim", "-o", str(out)]
    proc = run_cli("say", "Héllo, wörld.".encode("latin-1"), *flags)  # argv bytes as a latin-1 terminal sends them
    assert proc.returncode == 2
    assert (
        proc.stderr.decode()
        .strip()
        .splitlines()[-1]
        .startswith("error: the text is not UTF-8 (byte 0xe9 at character 1")
    )
    assert not out.exists()


@pytest.mark.parametrize(
    "text, needle",
    [("   ", "empty"), ("!!!", "no letters"), ("\U0001f600", "no letters"), ("{QQ1}", "QQ1")],
)
def test_say_cli_text_errors(tmp_path, tiny_tacotron2_file, tiny_waveglow_file, text, needle):
    out = tmp_path / "x.wav"
    proc = run_cli(
        "say",
        text,
        "--acoustic-checkpoint",
        str(tiny_tacotron2_file),
        "--checkpoint",
        str(tiny_waveglow_file),
        "--device",
        "cpu",
        "-o",
        str(out),
    )
    err = proc.stderr.decode()
    assert proc.returncode == 2 and err.count("\n") == 1 and needle in err and "Traceback" not in err
    assert not out.exists()


def test_bundled_cmudict_speaks_dictionary_words_as_phones(tiny_tacotron2_file, tiny_waveglow_file, tmp_path):
    def speak(cmudict):
        return Pipeline.from_config(
            {
                "acoustic": {"name": "tacotron2", "checkpoint": str(tiny_tacotron2_file), "cmudict": cmudict},
                "vocoder": {"name": "waveglow", "checkpoint": str(tiny_waveglow_file), "sigma": 0.0},
                "runtime": {"device": "cpu", "seed": 0},
            }
        ).synthesize("Hello world.")

    phones, spelt = speak("bundled"), speak(None)
    assert phones.samples.shape == spelt.samples.shape and not torch.allclose(phones.samples, spelt.samples)
    out = tmp_path / "x.wav"
    args = ["--acoustic-checkpoint", str(tiny_tacotron2_file), "--checkpoint", str(tiny_waveglow_file), "-o", str(out)]
    proc = run_cli("say", "Hello.", "--cmudict", str(tmp_path / "missing.dict"), "--device", "cpu", *args)
    err = proc.stderr.decode()
    assert proc.returncode == 2 and "cannot read CMUdict" in err and err.count("\n") == 1 and not out.exists()


def test_say_without_checkpoints_or_voice_explains_downloads(tmp_path):
    proc = run_cli("say", "Hello.", "--voice", "none", "-o", str(tmp_path / "x.wav"))
    err = proc.stderr.decode()
    assert proc.returncode == 2 and "tacotron2_statedict.pt" in err and err.count("\n") == 1
    assert not (tmp_path / "x.wav").exists()


def test_say_without_checkpoints_speaks_with_the_bundled_voice(tmp_path):
    proc = run_cli("say", "Hello.", "--max-decoder-steps", "30", "-o", str(tmp_path / "x.wav"))
    assert proc.returncode == 0, proc.stderr.decode()
    audio, rate = sf.read(tmp_path / "x.wav")
    assert rate == 22050 and 0 < len(audio) <= 30 * 256


def test_say_with_a_waveglow_file_as_acoustic_model(tmp_path, tiny_waveglow_file):
    proc = run_cli(
        "say",
        "Hello.",
        "--acoustic-checkpoint",
        str(tiny_waveglow_file),
        "--checkpoint",
        str(tiny_waveglow_file),
        "-o",
        str(tmp_path / "x.wav"),
    )
    err = proc.stderr.decode()
    assert proc.returncode == 2 and "waveglow" in err.lower() and err.count("\n") == 1


class RayhaneVoice(AcousticModel):
    """A fake acoustic model that emits Rayhane-style mels ([-4, 4] dB, hop 275): one second per text."""

    name = "rayhane-voice"

    def __init__(self):
        self.mel_format = RAYHANE
        self.options = None

    @classmethod
    def load(cls, checkpoint, options, device, dtype):
        return cls()

    def synthesize(self, texts, generator=None):
        audio = read_audio(WAVS / "LJ037-0003.flac")[0][:22050]
        return [AcousticOutput(mel=compute_mel(audio, RAYHANE)) for _ in texts]


class RayhanePlugin:
    @hookimpl
    def register_acoustic_models(self, register):
        register(RayhaneVoice)


def test_pipeline_inserts_mel_matching_for_another_acoustic_format(tiny_waveglow_file):
    with plugin_registered(RayhanePlugin(), name="rayhane-voice"):
        pipeline = Pipeline.from_config(
            {
                "acoustic": {"name": "rayhane-voice"},
                "vocoder": {"checkpoint": str(tiny_waveglow_file), "sigma": 0.0, "denoiser_strength": 0.0},
                "runtime": {"device": "cpu"},
            }
        )
        audio = pipeline.synthesize("One second.")
    frames = compute_mel(torch.zeros(22050), RAYHANE).shape[1]
    assert audio.samples.shape == (round(frames * 275 / 256) * 256,)  # converted to hop 256 before WaveGlow
    reference = pipeline.vocode(
        match_mel(compute_mel(read_audio(WAVS / "LJ037-0003.flac")[0][:22050], RAYHANE), RAYHANE, NVIDIA)
    )
    assert torch.allclose(audio.samples, reference.samples, atol=1e-5)


def test_ten_thousand_words_are_decoded_a_batch_at_a_time(pipeline):
    text = " ".join(f"word{i % 7}" + ("." if i % 40 == 39 else "") for i in range(10_000))
    calls = []
    synthesize = pipeline.acoustic.synthesize

    def counting(texts, generator=None):
        calls.append(len(texts))
        return synthesize(texts, generator)

    pipeline.acoustic.synthesize = counting
    stream = pipeline.synthesize_stream(text, sentences_per_batch=4)
    pieces = [next(stream)]
    assert calls == [1]  # the first sentence's audio is out before any other sentence is decoded
    pieces += [next(stream) for _ in range(5)]
    stream.close()
    # 6 sentences out after the first alone and two batches of 4: the other ~250 are not decoded (nor held) yet
    assert calls == [1, 4, 4]
    assert all(p.audio.shape == (FRAMES * HOP,) for p in pieces)


def test_nan_tacotron2_weights_give_one_error_line(tmp_path, tiny_tacotron2_file):
    from safetensors.torch import load_file, safe_open, save_file

    with safe_open(str(tiny_tacotron2_file), framework="pt") as fh:
        metadata = fh.metadata()
    state = {
        k: v.float().fill_(float("nan")) if v.is_floating_point() else v
        for k, v in load_file(str(tiny_tacotron2_file)).items()
    }
    broken = tmp_path / "nan.safetensors"
    save_file(state, str(broken), metadata=metadata)
    out = tmp_path / "o.wav"
    proc = run_cli("say", "Hello.", "--acoustic-checkpoint", str(broken), "--vocoder", "griffin-lim", "-o", str(out))
    err = proc.stderr.decode()
    assert proc.returncode == 2 and not out.exists()
    assert (
        err.startswith("error: acoustic model 'tacotron2' produced a mel with NaN or Inf values")
        and err.count("\n") == 1
    )


def test_synthesize_many_speaks_each_text_as_synthesize_would(tiny_tacotron2_file, tiny_waveglow_file):
    def make():
        return Pipeline.from_config(
            {
                "acoustic": {"name": "tacotron2", "checkpoint": str(tiny_tacotron2_file), "batch_size": 3},
                "vocoder": {"name": "waveglow", "checkpoint": str(tiny_waveglow_file), "sigma": 0.0},
                "runtime": {"device": "cpu", "seed": 5},
            }
        )

    texts = ["One. Two words.", "Three words here.", "Four. Five. Six. Seven."]
    many = list(make().synthesize_many(texts, pause=0.1))
    one_by_one = make()
    alone = [one_by_one.synthesize(text, pause=0.1) for text in texts]
    assert [a.samples.shape for a in many] == [a.samples.shape for a in alone]
    assert [a.duration for a in many] == pytest.approx([(n * FRAMES * HOP + (n - 1) * 2205) / 22050 for n in (2, 1, 4)])
    assert all(torch.allclose(a.samples, b.samples, atol=1e-4) for a, b in zip(many, alone, strict=True))
    with pytest.raises(TextError, match=r"^text 2: text '\?!' contains no letters"):
        make().synthesize_many(["Fine.", "?!", "Fine."])
    with pytest.raises(TextError, match="must be a str, not bytes"):
        make().synthesize(b"Hello.")


def test_parse_text_list_names_and_texts():
    from tts_pipeline.cli.text_input import parse_text_list

    content = (
        "\ufeffHello there.\n\n  \nwavs/LJ001-0001.wav|Printing, in the only sense.|Printing normalised\nSecond.\n"
    )
    lines = parse_text_list(content, "t.txt")
    assert [(line.number, line.name, line.text) for line in lines] == [
        (1, "0001", "Hello there."),
        (4, "LJ001-0001", "Printing, in the only sense."),
        (5, "0003", "Second."),
    ]
    for bad, needle in [
        ("", "holds no text"),
        ("a|one\nb/a.wav|two\n", "lines 1 and 2 both name 'a'"),
        ("|text\n", "line 1: expected 'text' or 'name|text'"),
        ("x|  \n", "line 1: expected"),
    ]:
        with pytest.raises(TextError, match=needle):
            parse_text_list(bad, "t.txt")


def test_say_cli_text_file_speaks_each_line_into_a_folder(tmp_path, tiny_tacotron2_file, tiny_waveglow_file):
    lines = tmp_path / "lines.txt"
    lines.write_text("One. Two.\nwavs/LJ001-0002.wav|Three.|normalised\n\nFour.\n", encoding="utf-8")
    out = tmp_path / "out"
    flags = ["--acoustic-checkpoint", str(tiny_tacotron2_file), "--checkpoint", str(tiny_waveglow_file)]
    proc = run_cli("say", "-f", str(lines), "-o", str(out), "--pause", "0.1", "--ext", "flac", *flags)
    assert proc.returncode == 0, proc.stderr.decode()
    assert sorted(p.name for p in out.iterdir()) == ["0001.flac", "0003.flac", "LJ001-0002.flac", "filelist.txt"]
    assert (out / "filelist.txt").read_text() == "0001.flac|One. Two.\nLJ001-0002.flac|Three.\n0003.flac|Four.\n"
    assert sf.info(out / "0001.flac").frames == 2 * FRAMES * HOP + 2205
    assert sf.info(out / "LJ001-0002.flac").frames == FRAMES * HOP
    assert "3 file(s)" in proc.stderr.decode().splitlines()[-1]


def test_say_cli_text_file_errors(tmp_path, tiny_tacotron2_file):
    flags = ["--acoustic-checkpoint", str(tiny_tacotron2_file), "--vocoder", "griffin-lim"]
    lines = tmp_path / "lines.txt"
    lines.write_text("Fine.\n?!\n", encoding="utf-8")
    out = tmp_path / "out"
    proc = run_cli("say", "-f", str(lines), "-o", str(out), *flags)
    err = proc.stderr.decode().strip()
    assert proc.returncode == 2 and err.count("\n") == 0, err
    assert err.startswith(f"error: {lines} line 2: text '?!' contains no letters") and not out.exists()
    for args, needle in [
        (["Hello.", "-f", str(lines)], "give either TEXT or --text-file"),
        ([], "give either TEXT or --text-file"),
        (["-f", str(lines), "--plot", str(tmp_path / "p.png")], "no --plot"),
        (["-f", str(tmp_path / "missing.txt")], "cannot read text file"),
    ]:
        proc = run_cli("say", *args, "-o", str(out), *flags)
        err = proc.stderr.decode().strip()
        assert proc.returncode == 2 and needle in err and err.count("\n") == 0, err
    proc = run_cli("say", "-f", str(lines), "-o", str(tmp_path / "one.wav"), *flags)
    assert proc.returncode == 2 and "-o FOLDER/" in proc.stderr.decode() and not (tmp_path / "one.wav").exists()
    lines.write_bytes("Héllo.\n".encode("latin-1"))
    proc = run_cli("say", "-f", "-", "-o", str(out), *flags, stdin=lines.read_bytes())
    assert proc.returncode == 2 and "the text on stdin is not UTF-8 (byte 0xe9" in proc.stderr.decode()
    assert not out.exists()


@pytest.mark.parametrize("pause", [-1, float("nan"), float("inf"), 1e9, "0.5", None, True])
def test_a_bad_pause_is_a_config_error_before_any_work(pipeline, pause):
    with pytest.raises(ConfigError, match="pause must be between 0 and 60 seconds"):
        pipeline.synthesize("Hello.", pause=pause)
    with pytest.raises(ConfigError, match="pause must be between 0 and 60 seconds"):
        pipeline.synthesize_many(["Hello."], pause=pause)


@pytest.mark.parametrize("batch", [0, -1, 1.5, "2"])
def test_a_bad_sentences_per_batch_is_a_config_error(pipeline, batch):
    with pytest.raises(ConfigError, match="sentences_per_batch must be a whole number >= 1"):
        pipeline.synthesize_stream("Hello.", sentences_per_batch=batch)
    with pytest.raises(TextError, match="texts must be a list of str, not str"):
        pipeline.synthesize_many("Hello.")
