"""Training WaveGlow: data items, learning, the command line end to end (train, resume, vocode)."""

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from tts_pipeline_waveglow.checkpoint import build_waveglow, load_waveglow_checkpoint
from tts_pipeline_waveglow.train_task import WaveGlowTask, WaveGlowTrainOptions
from tts_pipeline_waveglow.vocoder import mel_format_for

from tts_pipeline.audio.formats import NVIDIA
from tts_pipeline.errors import ConfigError
from tts_pipeline.training.data import Utterance, read_filelist

DATA = Path(__file__).parents[3] / "tests" / "data" / "joe-lj"
TINY = {"n_flows": 4, "n_early_every": 2, "n_layers": 2, "n_channels": 16, "upsample_kernel": 512}


def task(**options) -> WaveGlowTask:
    return WaveGlowTask(WaveGlowTrainOptions(**{"model": TINY, "segment_length": 4096, **options}))


def test_items_and_padding():
    utterances = read_filelist(DATA / "list.txt")
    ds = task().dataset(utterances, train=True)
    mel, audio = ds[0]
    assert audio.shape == (4096,) and mel.shape == (80, 4096 // 256 + 1)
    long = task(segment_length=22050 * 4).dataset(utterances[:1], train=False)  # clip ~1.1 s: zero-padded
    _, padded = long[0]
    assert padded.shape == (22050 * 4,) and padded[-1000:].abs().sum() == 0
    torch.manual_seed(3)
    a = ds[3][1]
    torch.manual_seed(3)
    assert torch.equal(a, ds[3][1])  # segments follow torch's seed


def test_below_16_khz_the_bands_reach_nyquist_in_training_and_synthesis():
    """NVIDIA's top band edge (8000 Hz) does not fit an 8 kHz model: its mels stop at 4000 Hz instead."""
    t = task(model={**TINY, "sample_rate": 8000})
    mel, audio = t.dataset(read_filelist(DATA / "list.txt"), train=True)[0]  # resampled to 8 kHz
    assert mel.shape == (80, 4096 // 256 + 1) and torch.isfinite(mel).all()
    fmt = mel_format_for(t.options.config())
    assert (fmt.sample_rate, fmt.top_frequency) == (8000, 4000)
    assert mel_format_for(t.options.config().__class__()) is NVIDIA  # the published size keeps NVIDIA's
    assert task(model={**TINY, "sample_rate": 16000}).dataset([], train=True).format.fmax == 8000


def test_bad_file_is_skipped_and_named(tmp_path, caplog):
    bad = tmp_path / "broken.flac"
    bad.write_bytes(b"not audio")
    ds = task().dataset([Utterance(bad, "x"), Utterance(tmp_path / "missing.wav", "y")], train=True)
    with caplog.at_level(logging.WARNING, logger="tts_pipeline"):
        assert ds[0] is None and ds[1] is None
    assert "broken.flac" in caplog.text and "missing.wav" in caplog.text
    assert task().collate([None, None]) == {}


def test_loss_decreases():
    t = task()
    ds = t.dataset(read_filelist(DATA / "list.txt"), train=True)
    torch.manual_seed(0)
    model = t.build_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for step in range(30):
        batch = t.collate([ds[(2 * step) % len(ds)], ds[(2 * step + 1) % len(ds)]])
        loss, _ = t.loss(model, batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5 - 0.3


def test_save_and_warm_start(tmp_path):
    t = task()
    model = t.build_model()
    t.save_model(model, tmp_path / "m.safetensors")
    again = t.build_model()
    t.warm_start(again, tmp_path / "m.safetensors")
    for key, value in model.state_dict().items():
        assert torch.equal(value, again.state_dict()[key])
    built = build_waveglow(load_waveglow_checkpoint(tmp_path / "m.safetensors"))
    assert built.config == model.config
    other = WaveGlowTask(WaveGlowTrainOptions(model={**TINY, "n_channels": 8}, segment_length=4096))
    with pytest.raises(Exception, match="another size"):
        other.warm_start(other.build_model(), tmp_path / "m.safetensors")


@pytest.mark.parametrize(
    "options, needle",
    [({"preset": "huge"}, "huge"), ({"model": {"n_flowz": 2}}, "n_flowz"), ({"segment_length": 4097}, "multiple")],
)
def test_option_errors(options, needle):
    with pytest.raises(ConfigError, match=needle):
        WaveGlowTrainOptions(**{"model": TINY, "segment_length": 4096, **options})


def test_train_resume_then_vocode_from_the_command_line(tmp_path):
    config = tmp_path / "train.toml"
    config.write_text(
        "[train]\nbatch_size = 2\nnum_workers = 0\ncheckpoint_every = 2\nlog_every = 1\nlearning_rate = 1e-3\n"
        "[model]\nsegment_length = 4096\nmodel = { n_flows = 4, n_early_every = 2, n_layers = 2, "
        "n_channels = 16, upsample_kernel = 512 }\n"
    )
    out = tmp_path / "run"

    def cli(*args, cwd=None, code=0):
        proc = subprocess.run(
            [sys.executable, "-m", "tts_pipeline", *map(str, args)], capture_output=True, text=True, cwd=cwd
        )
        assert proc.returncode == code, proc.stderr[-2000:]
        return proc.stderr.strip().splitlines()[-1] if code else ""

    # the list given relative to the working folder: the run records where it is, so a resume from
    # another folder still finds it
    first = ["train", "waveglow", "--config", config, "--filelist", "list.txt", "--output-dir", out, "--device", "cpu"]
    cli(*first, "--steps", 2, cwd=DATA)
    cli("train", "waveglow", "--resume", out, "--steps", 4, cwd=tmp_path)
    steps = [json.loads(line)["step"] for line in (out / "log.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4]
    # mistakes that would have trained the wrong thing: a new run over this one, a resume that changes the
    # model's sizes, a resume told to write elsewhere
    assert "already holds a run" in cli(*first, "--steps", 6, cwd=DATA, code=2)
    wider = tmp_path / "wider.toml"
    wider.write_text(config.read_text().replace("n_channels = 16", "n_channels = 32"))
    error = cli("train", "waveglow", "--resume", out, "--config", wider, "--steps", 6, code=2)
    assert error.startswith("error: --resume continues") and "where the run has 16" in error
    assert "leave out --output-dir" in cli("train", "waveglow", "--resume", out, "--output-dir", tmp_path, code=2)
    assert [p.name for p in sorted(out.glob("checkpoint_*.pt"))][-1] == "checkpoint_00000004.pt"
    # a checkpoint written by another version, with settings this one does not know: resumed, with a warning
    state = torch.load(out / "checkpoint_00000004.pt", weights_only=True)
    state["train_config"]["ema_decay"], state["task_options"]["old_option"] = 0.999, 1
    torch.save(state, out / "checkpoint_00000004.pt")
    proc = subprocess.run(
        [sys.executable, "-m", "tts_pipeline", "train", "waveglow", "--resume", str(out), "--steps", "5"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "ignoring its [train] settings ema_decay" in proc.stderr and "[model] settings old_option" in proc.stderr
    cli("mel", DATA / "wavs" / "LJ037-0003.flac", "-o", tmp_path / "m.npy")
    cli("vocode", tmp_path / "m.npy", "--checkpoint", out / "checkpoint_00000004.pt", "-o", tmp_path / "a.wav")
    cli("vocode", tmp_path / "m.npy", "--checkpoint", out / "model_00000004.safetensors", "-o", tmp_path / "b.wav")
    assert (tmp_path / "a.wav").stat().st_size == (tmp_path / "b.wav").stat().st_size > 1000
