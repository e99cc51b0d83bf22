"""The bundled voice: its files match the checksums, it speaks with no configuration, and configs win over it."""

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tts_pipeline import voices
from tts_pipeline.config import DEFAULT_VOICE, load_config
from tts_pipeline.errors import CheckpointError, ConfigError
from tts_pipeline.pipeline import Pipeline

ROOT = Path(__file__).parents[1]
CARD_SECTIONS = ("## Data and licence", "## Recipe", "## Training runs", "## Measured quality", "## Limits")


def load_tool(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_default_voice_is_installed_and_its_files_match_the_card():
    installed = voices.installed_voices()
    assert DEFAULT_VOICE in installed
    for voice in installed.values():
        assert voice.mismatches() == []
        card = voice.card.read_text(encoding="utf-8")
        for stage in (voice.acoustic, voice.vocoder):
            assert f"| {stage.file.name} | {stage.sha256} |" in card
            assert stage.file.stat().st_size < 60 * 2**20
        assert all(section in card for section in CARD_SECTIONS)
    total = sum(s.file.stat().st_size for v in installed.values() for s in (v.acoustic, v.vocoder))
    assert total <= 60 * 2**20 * len(installed)


def test_an_empty_config_speaks_with_the_bundled_voice():
    voice = voices.get_voice(DEFAULT_VOICE)
    pipeline = Pipeline.from_config(
        {"acoustic": {"name": "tacotron2", "max_decoder_steps": 60}, "runtime": {"seed": 0}}
    )
    assert pipeline.config.vocoder.checkpoint == voice.vocoder.file
    assert pipeline.config.acoustic.checkpoint == voice.acoustic.file
    result = pipeline.synthesize("Hello, world.")
    n = result.samples.numel()
    assert n % 256 == 0 and 0 < n <= 60 * 256 and torch.isfinite(result.samples).all()
    # two words in about a second: the acoustic model stops by itself (it aligns since step 1500)
    full = Pipeline.from_config({"runtime": {"seed": 0}}).synthesize("Hello, world.")
    assert 0.5 < full.duration < 3.0


def test_from_config_with_nothing_gets_both_stages():
    pipeline = Pipeline.from_config({})
    assert pipeline.acoustic is not None and pipeline.config.voice == DEFAULT_VOICE


def test_a_vocoding_pipeline_takes_only_the_voices_vocoder():
    filled = voices.apply_voice(load_config({}), vocoder_only=True)
    assert filled.acoustic is None and filled.vocoder.checkpoint is not None
    assert voices.apply_voice(load_config({})).acoustic is not None


def test_configured_checkpoints_and_voice_none_win(tiny_waveglow_file):
    own = Pipeline.from_config({"vocoder": {"checkpoint": str(tiny_waveglow_file)}})
    assert own.config.vocoder.checkpoint == tiny_waveglow_file
    assert own.acoustic is None  # a configured vocoder alone stays a vocoding pipeline
    with pytest.raises(CheckpointError, match="no WaveGlow checkpoint given"):
        Pipeline.from_config({"voice": "none"})
    with pytest.raises(ConfigError, match="unknown voice 'nobody'"):
        Pipeline.from_config({"voice": "nobody"})
    with pytest.raises(ConfigError, match="voice must be"):
        Pipeline.from_config({"voice": 3})


@pytest.fixture
def voice_copy(tmp_path, monkeypatch) -> Path:
    """A copy of the bundled voices folder that the package reads instead."""
    folder = tmp_path / "voices"
    shutil.copytree(voices.VOICES_DIR / DEFAULT_VOICE, folder / DEFAULT_VOICE)
    monkeypatch.setattr(voices, "VOICES_DIR", folder)
    return folder / DEFAULT_VOICE


def test_a_damaged_voice_is_refused_with_a_clear_message(voice_copy):
    with open(voice_copy / "waveglow.safetensors", "r+b") as fh:
        fh.seek(1000)
        fh.write(b"\0" * 16)
    assert voices.get_voice(DEFAULT_VOICE).mismatches() == ["waveglow.safetensors does not match its checksum"]
    with pytest.raises(CheckpointError, match="damaged .*reinstall"):
        Pipeline.from_config({})


def test_a_voice_in_training_warns_naming_only_the_models_used(voice_copy, caplog):
    manifest = voice_copy / "voice.toml"
    text = manifest.read_text(encoding="utf-8")
    manifest.write_text(text.replace('status = "ready"', 'status = "in training"'), encoding="utf-8")
    voice = voices.get_voice(DEFAULT_VOICE)
    assert voice.status == "in training" and voice.acoustic.note and voice.vocoder.note
    with caplog.at_level("WARNING", logger="tts_pipeline.voices"):
        voices.apply_voice(load_config({"acoustic": {"name": "tacotron2"}, "vocoder": {"name": "griffin-lim"}}))
    (message,) = [r.getMessage() for r in caplog.records]
    assert f"tacotron2 {voice.acoustic.note}" in message and "waveglow" not in message
    caplog.clear()
    with caplog.at_level("WARNING", logger="tts_pipeline.voices"):
        voices.apply_voice(load_config({}))
    (message,) = [r.getMessage() for r in caplog.records]
    assert f"tacotron2 {voice.acoustic.note}, waveglow {voice.vocoder.note}" in message


def test_a_voices_options_go_with_its_weights_and_yield_to_the_users(voice_copy, tmp_path):
    manifest = voice_copy / "voice.toml"
    text = manifest.read_text(encoding="utf-8")
    text = "\n".join(line for line in text.splitlines() if not line.startswith("options"))
    own_options = 'file = "tacotron2.safetensors"\noptions = { cmudict = "x.txt" }'
    manifest.write_text(text.replace('file = "tacotron2.safetensors"', own_options), encoding="utf-8")
    voice = voices.get_voice(DEFAULT_VOICE)
    assert voice.acoustic.options == {"cmudict": "x.txt"}
    filled = voices.apply_voice(load_config({}))
    assert filled.acoustic.checkpoint == voice.acoustic.file and filled.acoustic.options["cmudict"] == "x.txt"
    own = voices.apply_voice(load_config({"acoustic": {"name": "tacotron2", "cmudict": "mine.txt"}}))
    assert own.acoustic.options["cmudict"] == "mine.txt"
    # other weights than the voice's: the voice's options (made for its weights) are not applied
    other = voices.apply_voice(load_config({"acoustic": {"name": "tacotron2", "checkpoint": str(tmp_path / "t.pt")}}))
    assert "cmudict" not in other.acoustic.options


def test_update_voice_refreshes_manifest_and_card(voice_copy):
    data = bytearray((voice_copy / "tacotron2.safetensors").read_bytes())
    data[-1] ^= 1  # a different float16 value: new weights dropped in
    (voice_copy / "tacotron2.safetensors").write_bytes(bytes(data))
    assert voices.get_voice(DEFAULT_VOICE).mismatches()
    sums = load_tool("update_voice").update(voice_copy)
    voice = voices.get_voice(DEFAULT_VOICE)
    assert voice.mismatches() == []
    assert voice.acoustic.sha256 == sums["tacotron2.safetensors"]
    assert f"| tacotron2.safetensors | {sums['tacotron2.safetensors']} |" in voice.card.read_text()


def test_voices_command_lists_the_bundled_voice():
    proc = subprocess.run([sys.executable, "-m", "tts_pipeline", "voices"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert f"{DEFAULT_VOICE} (default)" in proc.stdout and "checksums: ok" in proc.stdout


@pytest.mark.parametrize("frames_per_step, fits", [(1, True), (3, False)])
def test_warm_start_check_says_whether_weights_fit_a_recipe(tmp_path, frames_per_step, fits):
    from tts_pipeline_tacotron2.checkpoint import save_tacotron2
    from tts_pipeline_tacotron2.config import PRESETS
    from tts_pipeline_tacotron2.model import Tacotron2

    weights = tmp_path / "small.safetensors"
    save_tacotron2(weights, Tacotron2(PRESETS["small"]))  # r = 1
    config = tmp_path / "train.toml"
    config.write_text(f'[model]\npreset = "small"\nmodel = {{ n_frames_per_step = {frames_per_step} }}\n')
    reason = load_tool("warm_start_check").compatible("tacotron2", config, weights)
    assert (reason is None) == fits
    if not fits:
        assert "linear_projection" in reason and "shape" in reason


def test_pack_corpus_takes_a_window_of_training_clips_wrapping_round(tmp_path):
    corpus = tmp_path / "corpus"
    (corpus / "wavs").mkdir(parents=True)
    for split, names in (("train", "abcde"), ("val", "vw")):
        for name in names:
            (corpus / "wavs" / f"{name}.flac").write_bytes(name.encode() * 10)
        lines = "".join(f"wavs/{name}.flac|text {name}.\n" for name in names)
        (corpus / f"{split}.txt").write_text(lines, encoding="utf-8")
    pack = load_tool("pack_corpus").pack
    out = tmp_path / "packed"
    assert pack(corpus, out, {"train": 2, "val": 1}) == (30, {"train": 2, "val": 1})
    assert pack(corpus, out, {"train": 3, "val": 1}, {"train": 3}) == (40, {"train": 3, "val": 1})
    assert (out / "train.txt").read_text(encoding="utf-8").splitlines() == [
        "wavs/d.flac|text d.",
        "wavs/e.flac|text e.",
        "wavs/a.flac|text a.",
    ]
    assert (out / "val.txt").read_text(encoding="utf-8") == "wavs/v.flac|text v.\n"
    # the earlier window's clips are gone, so nothing outside the lists travels
    assert sorted(p.name for p in (out / "wavs").iterdir()) == ["a.flac", "d.flac", "e.flac", "v.flac"]
    # a size budget: the val clips first, then training clips until the next would not fit
    assert pack(corpus, out, {"val": 1, "train": 5}, {"train": 1}, budget=35) == (30, {"val": 1, "train": 2})
    taken = (out / "train.txt").read_text(encoding="utf-8").splitlines()
    assert taken == ["wavs/b.flac|text b.", "wavs/c.flac|text c."]


def test_pack_corpus_counts_what_travels_beside_the_clips(tmp_path, monkeypatch):
    if shutil.which("git") is None:
        pytest.skip("needs git")
    repo = tmp_path / "repo"
    (repo / ".gpu" / "whl").mkdir(parents=True)
    (repo / ".gpu" / "joe-lj" / "wavs").mkdir(parents=True)
    (repo / ".gitignore").write_text("/.gpu/\n/runs/\n")  # 14 bytes
    (repo / "tracked.py").write_bytes(b"x" * 100)
    (repo / "untracked.txt").write_bytes(b"y" * 20)  # not ignored, so it travels too
    (repo / "runs").mkdir()
    (repo / "runs" / "big.pt").write_bytes(b"z" * 1000)  # ignored: stays behind
    (repo / ".gpu" / "whl" / "a.whl").write_bytes(b"w" * 7)
    (repo / ".gpu" / "joe-lj" / "wavs" / "old.flac").write_bytes(b"o" * 500)  # replaced by the packing
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run(["git", "-C", str(repo), "add", "tracked.py", ".gitignore"], check=True)
    monkeypatch.chdir(repo / "runs")  # from a folder below the top, the whole repository still counts
    assert load_tool("pack_corpus").travelling_bytes(repo / ".gpu" / "joe-lj") == 14 + 100 + 20 + 7


def test_export_voice_averages_a_runs_newest_model_files(tmp_path, capsys):
    from safetensors import safe_open
    from safetensors.torch import save_file

    export_voice = load_tool("export_voice")
    run = tmp_path / "run"
    run.mkdir()
    config = {"tts_pipeline.model": "fake", "tts_pipeline.config": "{}"}
    for step, value in ((1, 100.0), (2, 1.0), (3, 2.0), (10, 6.0)):
        tensors = {"w": torch.full((2, 3), value), "bn.num_batches_tracked": torch.tensor(step)}
        save_file(tensors, str(run / f"model_{step:08d}.safetensors"), metadata=config)
    sources = export_voice.latest_model_files(run, 3)
    assert [p.name for p in sources] == [f"model_{s:08d}.safetensors" for s in (2, 3, 10)]
    (out,) = export_voice.export(sources, tmp_path / "voice", split_mb=None)
    with safe_open(str(out), framework="pt") as fh:
        assert fh.get_tensor("w").dtype == torch.float16
        assert torch.equal(fh.get_tensor("w"), torch.full((2, 3), 3.0, dtype=torch.float16))  # (1 + 2 + 6) / 3
        assert int(fh.get_tensor("bn.num_batches_tracked")) == 10  # integers from the newest
        assert fh.metadata()["exported_from"].endswith("model_00000010.safetensors")
    with pytest.raises(SystemExit) as stop:  # errors: one line on stderr, exit status 2
        export_voice.latest_model_files(run, 5)
    assert stop.value.code == 2 and "needs 5 model files" in capsys.readouterr().err
    save_file({"w": torch.zeros(3, 2)}, str(run / "model_00000011.safetensors"), metadata=config)
    with pytest.raises(SystemExit):
        export_voice.export(export_voice.latest_model_files(run, 2), tmp_path / "bad", split_mb=None)
    assert "different models" in capsys.readouterr().err
    assert not (tmp_path / "bad.safetensors").exists()
    newest = run / "model_00000011.safetensors"
    with pytest.raises(SystemExit):  # the export never replaces what it reads
        export_voice.export([newest], run / "model_00000011", split_mb=None)
    assert "is the input" in capsys.readouterr().err and newest.stat().st_size > 0


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--split-mb", "0"], "--split-mb takes a size in MB"),
        (["--split-mb", "nan"], "--split-mb takes a size in MB"),
        ([], "cannot read"),  # a file that is no model
    ],
)
def test_export_voice_errors_are_one_line_with_status_2(tmp_path, args, needle):
    source = tmp_path / "model_00000001.safetensors"
    source.write_bytes(b"not a safetensors file")
    script = ROOT / "tools" / "export_voice.py"
    proc = subprocess.run([sys.executable, str(script), str(source), str(tmp_path / "out"), *args], capture_output=True)
    err = proc.stderr.decode().strip()
    assert proc.returncode == 2 and needle in err.splitlines()[-1] and "Traceback" not in err
    assert source.read_bytes() == b"not a safetensors file" and not list(tmp_path.glob("out*"))
