"""Training Tacotron2: batches, masked loss, learning, warm start, validation plots."""

import logging
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from tts_pipeline_tacotron2.checkpoint import build_tacotron2, load_tacotron2_checkpoint, save_tacotron2
from tts_pipeline_tacotron2.guided import guided_attention_loss, guided_attention_weights
from tts_pipeline_tacotron2.layers import length_mask
from tts_pipeline_tacotron2.model import InferenceOutput
from tts_pipeline_tacotron2.text import CMUDict, text_to_sequence
from tts_pipeline_tacotron2.train_task import Tacotron2Task, Tacotron2TrainOptions, attention_kl

from tts_pipeline.errors import CheckpointError, ConfigError
from tts_pipeline.training.data import Utterance, read_filelist

DATA = Path(__file__).parents[3] / "tests" / "data" / "joe-lj"


def task(frames_per_step: int = 1, **options) -> Tacotron2Task:
    return Tacotron2Task(Tacotron2TrainOptions(preset="tiny", model={"n_frames_per_step": frames_per_step}, **options))


@pytest.fixture(scope="module")
def items():
    utterances = [u for u in read_filelist(DATA / "list.txt") if len(u.text) < 20]  # the three short clips
    return [task().dataset(utterances, train=True)[i] for i in range(len(utterances))]


@pytest.mark.parametrize("r", [1, 2, 3])
def test_collate_pads_and_sets_gate_targets(items, r):
    batch = task(r).collate(items)
    lengths = batch["mel_lengths"].tolist()  # 78, 69 and 83 frames
    assert batch["text_lengths"].tolist() == sorted(batch["text_lengths"].tolist(), reverse=True)
    n_frames = -(-max(lengths) // r) * r
    assert batch["mel"].shape == (3, 80, n_frames) and batch["gate"].shape == (3, n_frames // r)
    for b, n in enumerate(lengths):
        last = (n - 1) // r  # the step holding the last real frame
        assert batch["gate"][b, :last].sum() == 0 and batch["gate"][b, last:].eq(1).all()
        assert batch["mel"][b, :, n:].abs().sum() == 0 and batch["mel"][b, :, n - 1].abs().sum() > 0


def test_collate_gate_marks_the_step_holding_the_last_frame():
    items = [(torch.tensor([1, 2]), torch.ones(80, n)) for n in (5, 6, 7)]
    batch = task(3).collate(items)
    assert batch["mel"].shape == (3, 80, 9) and batch["mel_lengths"].tolist() == [5, 6, 7]
    assert batch["gate"].tolist() == [[0, 1, 1], [0, 1, 1], [0, 0, 1]]
    assert batch["mel"].sum(1).tolist() == [[80] * 5 + [0] * 4, [80] * 6 + [0] * 3, [80] * 7 + [0] * 2]


@pytest.mark.parametrize("r", [1, 3])
def test_loss_ignores_padding(items, r):
    t = task(r)
    torch.manual_seed(0)
    model = t.build_model().eval()
    batch = t.collate(items)
    loss, _ = t.loss(model, batch)
    n = int(batch["mel_lengths"].min())
    batch["mel"][batch["mel_lengths"].argmin(), :, n:] = 5.0  # padding only
    assert torch.allclose(t.loss(model, batch)[0], loss)


@pytest.mark.parametrize("r", [1, 2, 3])
def test_loss_decreases(items, r):
    t = task(r)
    torch.manual_seed(0)
    model = t.build_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    batch = t.collate(items)
    losses = []
    for _ in range(30):
        loss, metrics = t.loss(model, batch)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(metrics["loss"])
    assert losses[-1] < 0.7 * losses[0]


def test_unspeakable_text_and_bad_audio_are_skipped(tmp_path, caplog):
    utterances = [Utterance(DATA / "wavs" / "LJ037-0003.flac", "?!"), Utterance(tmp_path / "gone.wav", "Hello")]
    ds = task().dataset(utterances, train=True)
    with caplog.at_level(logging.WARNING, logger="tts_pipeline"):
        assert ds[0] is None and ds[1] is None
    assert "LJ037-0003.flac" in caplog.text and "gone.wav" in caplog.text


def test_clips_too_short_to_hold_a_word_are_skipped(tmp_path, caplog):
    import soundfile as sf

    sf.write(tmp_path / "blip.wav", np.full(100, 0.1, np.float32), 22050)  # one mel frame: broke the BatchNorm
    ds = task(trim_silence=False).dataset([Utterance(tmp_path / "blip.wav", "Hello")], train=True)
    with caplog.at_level(logging.WARNING, logger="tts_pipeline"):
        assert ds[0] is None
    assert "blip.wav: 0.005 s of audio, less than 0.1 s" in caplog.text


def test_warm_start_and_skip_embedding(tmp_path):
    t = task()
    source = t.build_model()
    save_tacotron2(tmp_path / "t2.safetensors", source)
    target = t.build_model()
    t.warm_start(target, tmp_path / "t2.safetensors")
    assert torch.equal(target.embedding.weight, source.embedding.weight)
    other_symbols = Tacotron2Task(Tacotron2TrainOptions(preset="tiny", model={"n_symbols": 160}))
    with pytest.raises(CheckpointError, match="skip_embedding"):
        other_symbols.warm_start(other_symbols.build_model(), tmp_path / "t2.safetensors")
    skipping = Tacotron2Task(Tacotron2TrainOptions(preset="tiny", model={"n_symbols": 160}, skip_embedding=True))
    model = skipping.build_model()
    skipping.warm_start(model, tmp_path / "t2.safetensors")
    assert torch.equal(model.decoder.gate_layer.linear_layer.weight, source.decoder.gate_layer.linear_layer.weight)
    assert build_tacotron2(load_tacotron2_checkpoint(tmp_path / "t2.safetensors")).config == source.config


@pytest.mark.parametrize("r", [1, 3])
def test_validation_plot(tmp_path, items, r):
    t = task(r)
    t.validation_artifacts(t.build_model().eval(), t.collate(items), tmp_path, 12)
    assert (tmp_path / "alignment_00000012.png").read_bytes()[:4] == b"\x89PNG"


def test_free_running_validation_metrics(items, monkeypatch):
    t = task(3)
    batch = t.collate(items)
    model = t.build_model().eval()
    first = t.validation_metrics(model, batch)
    assert set(first) == {"free_mel_dtw", "free_length_ratio", "free_sharpness", "free_unstopped"}
    assert first["free_mel_dtw"] > 0 and first["free_length_ratio"] > 0 and 0 <= first["free_unstopped"] <= 1
    assert t.validation_metrics(model, batch) == first  # seeded: moves only with the model
    # an untrained decoder rarely stops: the limit is twice the longest recording
    assert first["free_length_ratio"] <= 2 * int(batch["mel_lengths"].max()) / int(batch["mel_lengths"].min()) + 1

    decoded = batch["mel"]

    def recordings(text, text_lengths, generators, max_decoder_steps):
        lengths = batch["mel_lengths"]
        return InferenceOutput(decoded, lengths, torch.zeros(0), torch.zeros(len(lengths), dtype=torch.bool))

    monkeypatch.setattr(model, "infer", recordings)
    exact = {"free_mel_dtw": 0.0, "free_length_ratio": 1.0, "free_sharpness": 1.0, "free_unstopped": 0.0}
    assert t.validation_metrics(model, batch) == exact
    decoded = torch.nn.functional.avg_pool1d(batch["mel"], 5, stride=1, padding=2, count_include_pad=False)
    blurred = t.validation_metrics(model, batch)
    assert blurred["free_sharpness"] < 0.7 and blurred["free_mel_dtw"] > 0 and blurred["free_length_ratio"] == 1.0


def test_p_arpabet_redraws_training_texts_but_validation_reads_phones():
    utterances = read_filelist(DATA / "list.txt")[:1]
    mixed = task(p_arpabet=0.5, cmudict="bundled")
    train, val = mixed.dataset(utterances, train=True), mixed.dataset(utterances, train=False)
    torch.manual_seed(0)
    reads = {tuple(train[0][0].tolist()) for _ in range(12)}
    assert len(reads) > 3 and torch.equal(train[0][1], val[0][1])  # the mel is the same every time
    phones = text_to_sequence(utterances[0].text, cmudict=CMUDict("bundled"))
    assert val[0][0].tolist() == phones == val[0][0].tolist()
    assert task().dataset(utterances, train=True)[0][0].tolist() == text_to_sequence(utterances[0].text)


def test_option_errors():
    with pytest.raises(ConfigError, match="preset"):
        Tacotron2TrainOptions(preset="giant")
    with pytest.raises(ConfigError, match="prenet_dimm"):
        Tacotron2TrainOptions(model={"prenet_dimm": 3})
    with pytest.raises(ConfigError, match="guided_attention"):
        Tacotron2TrainOptions(guided_attention=-1.0)
    with pytest.raises(ConfigError, match="gate_positive_weight"):
        Tacotron2TrainOptions(gate_positive_weight=0.0)
    with pytest.raises(ConfigError, match="guided_attention_sigma"):
        Tacotron2TrainOptions(guided_attention_sigma=0.0)
    with pytest.raises(ConfigError, match="p_arpabet"):
        Tacotron2TrainOptions(p_arpabet=1.5)
    with pytest.raises(ConfigError, match="teacher_forcing"):
        Tacotron2TrainOptions(teacher_forcing=1.2)
    with pytest.raises(ConfigError, match="mel_loss"):
        Tacotron2TrainOptions(mel_loss="l2")
    with pytest.raises(ConfigError, match="delta_loss"):
        Tacotron2TrainOptions(delta_loss=-1.0)
    with pytest.raises(ConfigError, match="attention_forcing"):
        Tacotron2TrainOptions(attention_forcing=-0.5)


def test_scheduled_sampling_changes_training_steps_but_not_validation(items):
    forced, sampled = task(3), task(3, teacher_forcing=0.0)
    torch.manual_seed(0)
    model = forced.build_model()
    batch = forced.collate(items)
    model.eval()
    assert forced.loss(model, batch)[1]["mel_loss"] == sampled.loss(model, batch)[1]["mel_loss"]
    model.train()
    torch.manual_seed(1)
    plain = forced.loss(model, batch)[1]["mel_loss"]
    torch.manual_seed(1)
    free = sampled.loss(model, batch)[1]["mel_loss"]
    assert free != pytest.approx(plain, rel=1e-3)


def test_mel_loss_option_picks_the_distance(items):
    """The mel term is D(mel) + D(mel_postnet) over real frames, for each named distance."""
    torch.manual_seed(0)
    model = task(3).build_model().eval()
    batch = task(3).collate(items)
    with torch.no_grad():
        out = model(batch["text"], batch["text_lengths"], batch["mel"], batch["mel_lengths"])
    cells = length_mask(batch["mel_lengths"], batch["mel"].shape[2], batch["mel"].device)[:, None, :]
    cells = cells.expand_as(batch["mel"])
    errors = [(m.float()[cells] - batch["mel"][cells]) for m in (out.mel, out.mel_postnet)]
    l1 = sum(float(e.abs().mean()) for e in errors)
    mse = sum(float(e.pow(2).mean()) for e in errors)
    for name, expected in (("mse", mse), ("l1", l1), ("l1+mse", l1 + mse)):
        with torch.no_grad():
            got = task(3, mel_loss=name).loss(model, batch)[1]["mel_loss"]
        assert got == pytest.approx(expected, rel=1e-5), name
    assert l1 != pytest.approx(mse, rel=1e-2)


def test_delta_loss_scores_frame_to_frame_changes_of_real_frames(items):
    """The delta term is D(diff(mel)) + D(diff(mel_postnet)) against diff(recording) over neighbouring real
    frames, added with its weight."""
    torch.manual_seed(0)
    model = task(3).build_model().eval()
    batch = task(3).collate(items)
    with torch.no_grad():
        out = model(batch["text"], batch["text_lengths"], batch["mel"], batch["mel_lengths"])
    valid = length_mask(batch["mel_lengths"], batch["mel"].shape[2], batch["mel"].device)
    pairs = (valid[:, 1:] & valid[:, :-1])[:, None, :].expand(-1, batch["mel"].shape[1], -1)
    change = batch["mel"].diff(dim=2)[pairs]
    by_hand = sum(float((m.diff(dim=2)[pairs] - change).abs().mean()) for m in (out.mel, out.mel_postnet))
    with torch.no_grad():
        plain = task(3, mel_loss="l1").loss(model, batch)[1]
        loss, metrics = task(3, mel_loss="l1", delta_loss=0.5).loss(model, batch)
    assert metrics["delta_loss"] == pytest.approx(by_hand, rel=1e-5)
    assert float(loss) == pytest.approx(plain["loss"] + 0.5 * by_hand, rel=1e-5)
    assert "delta_loss" not in plain
    # padding past a length is not a frame change: changing it changes nothing
    padded = dict(batch, mel=batch["mel"].masked_fill(~valid[:, None, :], 5.0))
    with torch.no_grad():
        assert task(3, mel_loss="l1", delta_loss=0.5).loss(model, padded)[1]["delta_loss"] == pytest.approx(by_hand)


def test_guided_attention_weights_follow_the_diagonal_of_each_utterance():
    weights = guided_attention_weights(torch.tensor([10, 6]), torch.tensor([5, 3]), 10, 5, sigma=0.2)
    assert weights.shape == (2, 10, 5)
    assert weights[0, 0, 0] == 0 and weights[0, 8, 4] == 0  # t/T == n/N
    assert weights[0, 0, 4] > 0.8 and weights[0, 9, 0] > 0.8  # far corners
    assert weights[1, 6:].abs().sum() == 0 and weights[1, :, 3:].abs().sum() == 0  # past either length
    assert weights[1, 2, 1] < 1e-6 and weights[1, 3, 1] > 0.2  # 1/3 of the text at 2/6 of the frames, not 3/6


def test_guided_attention_loss_prefers_diagonal_attention():
    frames, symbols = torch.tensor([40]), torch.tensor([10])
    diagonal = torch.zeros(1, 40, 10)
    diagonal[0, torch.arange(40), torch.arange(40) // 4] = 1.0
    backwards = diagonal.flip(2)
    uniform = torch.full((1, 40, 10), 0.1)
    losses = [float(guided_attention_loss(a, frames, symbols, 0.2)) for a in (diagonal, uniform, backwards)]
    assert losses[0] < 0.1 < losses[1] < losses[2] < 1.0
    padded = torch.cat([diagonal, torch.full((1, 5, 10), 0.1)], dim=1)  # padding frames are not counted
    assert float(guided_attention_loss(padded, frames, symbols, 0.2)) == pytest.approx(losses[0])


def test_guided_attention_is_added_to_the_loss(items):
    plain, guided = task(3), task(3, guided_attention=2.0)
    torch.manual_seed(0)
    model = plain.build_model().eval()
    batch = plain.collate(items)
    loss, metrics = plain.loss(model, batch)
    guided_loss, guided_metrics = guided.loss(model, batch)
    assert "attention_loss" not in metrics and 0 < guided_metrics["attention_loss"] < 1
    assert float(guided_loss.detach()) == pytest.approx(
        float(loss.detach()) + 2.0 * guided_metrics["attention_loss"], rel=1e-5
    )


def test_guided_attention_pulls_attention_onto_the_diagonal(items):
    """A few steps with the penalty leave far less attention off the diagonal than the same steps without."""

    def off_diagonal_after_training(weight: float) -> float:
        t, probe = task(3, guided_attention=weight), task(3, guided_attention=1.0)
        torch.manual_seed(0)
        model = t.build_model()
        optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
        batch = t.collate(items)
        for _ in range(40):  # 0.35 with the penalty, 0.55 without (0.56 untrained)
            loss, _ = t.loss(model, batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return probe.loss(model.eval(), batch)[1]["attention_loss"]

    assert off_diagonal_after_training(5.0) < 0.75 * off_diagonal_after_training(0.0)


def test_gate_positive_weight_scales_the_stop_step_alone(items):
    """The gate BCE by hand: softplus(-x) at each utterance's last step (times the weight), softplus(x) before."""
    t = task(3, gate_positive_weight=5.0)
    torch.manual_seed(0)
    model = t.build_model().eval()
    batch = t.collate(items)
    gate = model(batch["text"], batch["text_lengths"], batch["mel"], batch["mel_lengths"]).gate.detach()
    terms = []
    for b, n in enumerate(batch["mel_lengths"].tolist()):
        last = (n - 1) // 3
        terms += [torch.nn.functional.softplus(gate[b, :last]), 5.0 * torch.nn.functional.softplus(-gate[b, last:][:1])]
    expected = torch.cat(terms).mean()
    assert t.loss(model, batch)[1]["gate_loss"] == pytest.approx(float(expected), rel=1e-5)
    assert task(3).loss(model, batch)[1]["gate_loss"] < float(expected)


def test_attention_kl_by_hand():
    uniform = torch.full((1, 3, 4), 0.25)
    sharp = torch.tensor([[[1.0, 0.0, 0.0, 0.0]] * 3])
    assert float(attention_kl(uniform, uniform, torch.tensor([3]))) == pytest.approx(0.0, abs=1e-7)
    assert float(attention_kl(uniform, sharp, torch.tensor([3]))) == pytest.approx(math.log(4), rel=1e-6)
    # padding frames (past the length) do not count
    padded = torch.cat([uniform, sharp[:, :1]], dim=1), torch.cat([sharp, uniform[:, :1]], dim=1)
    assert float(attention_kl(*padded, torch.tensor([3]))) == pytest.approx(math.log(4), rel=1e-6)


def test_attention_forcing_trains_on_own_frames_in_training_steps_only(items):
    """Training steps: the decoder attends as a teacher-forced pass did and reads its own frames, and the KL of
    its own attention from that pass's joins the loss (with gradients into the attention); validation is
    plain teacher forcing."""
    no_dropout = {"p_prenet_dropout": 0.0, "p_attention_dropout": 0.0, "p_decoder_dropout": 0.0}

    def make(**options) -> Tacotron2Task:
        return Tacotron2Task(
            Tacotron2TrainOptions(preset="tiny", model={"n_frames_per_step": 3, **no_dropout}, **options)
        )

    plain, forcing = make(), make(teacher_forcing=0.0, attention_forcing=2.0)
    torch.manual_seed(0)
    model = plain.build_model()
    batch = plain.collate(items)
    model.eval()
    assert forcing.loss(model, batch)[1] == plain.loss(model, batch)[1]
    model.train()  # the encoder's and postnet's dropout stay: the same seed gives the same draws below
    torch.manual_seed(1)
    loss, metrics = forcing.loss(model, batch)
    assert metrics["attention_forcing_loss"] > 0
    assert metrics["loss"] == pytest.approx(
        metrics["mel_loss"] + metrics["gate_loss"] + 2.0 * metrics["attention_forcing_loss"], rel=1e-5
    )
    loss.backward()
    attention = model.decoder.attention_layer.query_layer.linear_layer.weight
    assert attention.grad is not None and attention.grad.abs().sum() > 0
    # the same pass by hand: attend as the teacher-forced pass did, read the decoder's own frames
    inputs = (batch["text"], batch["text_lengths"], batch["mel"], batch["mel_lengths"])
    torch.manual_seed(1)
    with torch.no_grad():
        reference = model(*inputs).alignments
        out = model(*inputs, teacher_forcing=0.0, forced_alignment=reference)
    cells = length_mask(batch["mel_lengths"], batch["mel"].shape[2], batch["mel"].device)[:, None, :]
    cells = cells.expand_as(batch["mel"])
    by_hand = sum(float((m[cells] - batch["mel"][cells]).pow(2).mean()) for m in (out.mel, out.mel_postnet))
    assert metrics["mel_loss"] == pytest.approx(by_hand, rel=1e-5)
    # the same draws without the forced attention: the decoder's own attention, other frames
    torch.manual_seed(1)
    with torch.no_grad():
        model(*inputs)
        unforced = model(*inputs, teacher_forcing=0.0)
    assert not torch.allclose(unforced.mel, out.mel, atol=1e-3)
