"""Tests of the Tacotron2 model: published layout, teacher-forced masking, and inference semantics."""

from __future__ import annotations

import pytest
import torch
from tts_pipeline_tacotron2.config import PRESETS, Tacotron2Config
from tts_pipeline_tacotron2.model import GATE_PADDING_LOGIT, Tacotron2

from tts_pipeline.errors import ConfigError

# FORMATS.md section 3, written out by hand (not generated from the model).
PUBLISHED_SHAPES: dict[str, tuple[int, ...]] = {"embedding.weight": (148, 512)}
for _i in range(3):
    _p = f"encoder.convolutions.{_i}."
    PUBLISHED_SHAPES[_p + "0.conv.weight"] = (512, 512, 5)
    PUBLISHED_SHAPES[_p + "0.conv.bias"] = (512,)
    for _name in ("weight", "bias", "running_mean", "running_var"):
        PUBLISHED_SHAPES[_p + "1." + _name] = (512,)
    PUBLISHED_SHAPES[_p + "1.num_batches_tracked"] = ()
for _suffix in ("", "_reverse"):
    PUBLISHED_SHAPES[f"encoder.lstm.weight_ih_l0{_suffix}"] = (1024, 512)
    PUBLISHED_SHAPES[f"encoder.lstm.weight_hh_l0{_suffix}"] = (1024, 256)
    PUBLISHED_SHAPES[f"encoder.lstm.bias_ih_l0{_suffix}"] = (1024,)
    PUBLISHED_SHAPES[f"encoder.lstm.bias_hh_l0{_suffix}"] = (1024,)
PUBLISHED_SHAPES.update(
    {
        "decoder.prenet.layers.0.linear_layer.weight": (256, 80),
        "decoder.prenet.layers.1.linear_layer.weight": (256, 256),
        "decoder.attention_rnn.weight_ih": (4096, 768),
        "decoder.attention_rnn.weight_hh": (4096, 1024),
        "decoder.attention_rnn.bias_ih": (4096,),
        "decoder.attention_rnn.bias_hh": (4096,),
        "decoder.attention_layer.query_layer.linear_layer.weight": (128, 1024),
        "decoder.attention_layer.memory_layer.linear_layer.weight": (128, 512),
        "decoder.attention_layer.v.linear_layer.weight": (1, 128),
        "decoder.attention_layer.location_layer.location_conv.conv.weight": (32, 2, 31),
        "decoder.attention_layer.location_layer.location_dense.linear_layer.weight": (128, 32),
        "decoder.decoder_rnn.weight_ih": (4096, 1536),
        "decoder.decoder_rnn.weight_hh": (4096, 1024),
        "decoder.decoder_rnn.bias_ih": (4096,),
        "decoder.decoder_rnn.bias_hh": (4096,),
        "decoder.linear_projection.linear_layer.weight": (80, 1536),
        "decoder.linear_projection.linear_layer.bias": (80,),
        "decoder.gate_layer.linear_layer.weight": (1, 1536),
        "decoder.gate_layer.linear_layer.bias": (1,),
    }
)
for _i, (_out, _in) in enumerate([(512, 80), (512, 512), (512, 512), (512, 512), (80, 512)]):
    _p = f"postnet.convolutions.{_i}."
    PUBLISHED_SHAPES[_p + "0.conv.weight"] = (_out, _in, 5)
    PUBLISHED_SHAPES[_p + "0.conv.bias"] = (_out,)
    for _name in ("weight", "bias", "running_mean", "running_var"):
        PUBLISHED_SHAPES[_p + "1." + _name] = (_out,)
    PUBLISHED_SHAPES[_p + "1.num_batches_tracked"] = ()

TEXTS = [[3, 4, 5, 6, 7, 8, 9], [10, 11, 12], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]]


def pad_texts(texts: list[list[int]], pad: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    n = max(len(t) for t in texts)
    text = torch.tensor([t + [pad] * (n - len(t)) for t in texts])
    return text, torch.tensor([len(t) for t in texts])


def gens(*seeds: int) -> list[torch.Generator]:
    return [torch.Generator().manual_seed(s) for s in seeds]


def set_gate(model: Tacotron2, bias: float, weight_scale: float = 1.0) -> Tacotron2:
    with torch.no_grad():
        model.decoder.gate_layer.linear_layer.weight.mul_(weight_scale)
        model.decoder.gate_layer.linear_layer.bias.fill_(bias)
    return model


def test_published_keys_and_shapes_match_formats_exactly():
    with torch.device("meta"):
        model = Tacotron2(PRESETS["published"])
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert shapes == PUBLISHED_SHAPES
    # No parameter or buffer outside the state dict (e.g. a non-persistent buffer).
    names = {n for n, _ in model.named_parameters()} | {n for n, _ in model.named_buffers()}
    assert names == set(PUBLISHED_SHAPES)
    n_params = sum(p.numel() for p in model.parameters())
    assert round(n_params / 1e6, 1) == 28.2


def test_forward_shapes_and_padding_values(make_tacotron2):
    model = make_tacotron2()
    text, text_lengths = pad_texts(TEXTS[:2])
    mels = torch.randn(2, 8, 12)
    mel_lengths = torch.tensor([12, 9])
    out = model(text, text_lengths, mels, mel_lengths)
    assert out.mel.shape == out.mel_postnet.shape == (2, 8, 12)
    assert out.gate.shape == (2, 12)
    assert out.alignments.shape == (2, 12, 7)
    assert torch.all(out.mel[1, :, 9:] == 0) and torch.all(out.mel_postnet[1, :, 9:] == 0)
    assert torch.all(out.gate[1, 9:] == GATE_PADDING_LOGIT) and torch.all(out.gate[:, :9] < 100)
    # Attention never looks past a text; each step's weights sum to one.
    assert torch.all(out.alignments[1, :9, 3:] == 0)
    torch.testing.assert_close(out.alignments[0].sum(-1), torch.ones(12))
    assert out.mel_postnet[0].abs().sum() > 0


def test_forward_ignores_padding_of_text_and_mels(make_tacotron2):
    model = make_tacotron2()
    text, text_lengths = pad_texts(TEXTS)
    mels = torch.randn(3, 8, 10)
    mel_lengths = torch.tensor([10, 6, 8])
    ref = model(text, text_lengths, mels, mel_lengths)

    text2 = text.clone()
    mels2 = mels.clone()
    for b in range(3):
        text2[b, text_lengths[b] :] = 1000  # not even a valid id
        mels2[b, :, mel_lengths[b] :] = 5.0
    out = model(text2, text_lengths, mels2, mel_lengths)
    for field in ("mel", "mel_postnet", "gate", "alignments"):
        torch.testing.assert_close(getattr(out, field), getattr(ref, field), rtol=0, atol=1e-6)
    # And a sanity check that the comparison can fail: a real frame does change the output.
    mels2[1, :, 2] += 1.0
    assert not torch.allclose(model(text2, text_lengths, mels2, mel_lengths).mel_postnet, ref.mel_postnet)


def test_forward_batch_equals_each_item_alone(make_tacotron2):
    model = make_tacotron2()
    text, text_lengths = pad_texts(TEXTS, pad=5)
    mels = torch.randn(3, 8, 11)
    mel_lengths = torch.tensor([9, 11, 4])
    batch = model(text, text_lengths, mels, mel_lengths)
    for b, t in enumerate(TEXTS):
        n = int(mel_lengths[b])
        alone = model(torch.tensor([t]), torch.tensor([len(t)]), mels[b : b + 1, :, :n], mel_lengths[b : b + 1])
        for field in ("mel", "mel_postnet", "gate"):
            torch.testing.assert_close(getattr(batch, field)[b, ..., :n], getattr(alone, field)[0], atol=1e-5, rtol=0)
        torch.testing.assert_close(batch.alignments[b, :n, : len(t)], alone.alignments[0], atol=1e-5, rtol=0)


def test_forward_training_mode_backpropagates(make_tacotron2):
    model = make_tacotron2().train()
    text, text_lengths = pad_texts(TEXTS[:2])
    out = model(text, text_lengths, torch.randn(2, 8, 6), torch.tensor([6, 4]))
    (out.mel_postnet.pow(2).mean() + out.gate.sigmoid().mean()).backward()
    assert model.embedding.weight.grad is not None
    assert model.decoder.gate_layer.linear_layer.weight.grad.abs().sum() > 0


def test_infer_stops_at_first_step_on_a_large_gate(make_tacotron2):
    model = set_gate(make_tacotron2(), bias=50.0)
    text, text_lengths = pad_texts(TEXTS)
    out = model.infer(text, text_lengths, generators=gens(1, 2, 3))
    assert out.mel_lengths.tolist() == [1, 1, 1]
    assert out.truncated.tolist() == [False] * 3
    assert out.mel_postnet.shape == (3, 8, 1)
    assert out.alignments.shape == (3, 1, 13)


def test_infer_runs_to_max_steps_and_reports_truncation(make_tacotron2):
    model = set_gate(make_tacotron2(), bias=-50.0)
    text, text_lengths = pad_texts(TEXTS[:2])
    out = model.infer(text, text_lengths, generators=gens(1, 2), max_decoder_steps=7)
    assert out.mel_lengths.tolist() == [7, 7]
    assert out.truncated.tolist() == [True, True]
    assert out.mel_postnet.shape == (2, 8, 7)
    # The config's limit applies when none is given.
    assert model.infer(text[:1], text_lengths[:1], prenet_dropout=False).mel_lengths.tolist() == [40]


def test_infer_gate_threshold_override(make_tacotron2):
    model = set_gate(make_tacotron2(), bias=2.0)  # sigmoid ~ 0.88 at every step
    text, text_lengths = pad_texts(TEXTS[:1])
    assert model.infer(text, text_lengths, prenet_dropout=False).mel_lengths.item() == 1
    out = model.infer(text, text_lengths, prenet_dropout=False, gate_threshold=0.99, max_decoder_steps=5)
    assert out.mel_lengths.item() == 5 and out.truncated.item()


def test_batched_infer_equals_each_utterance_alone(make_tacotron2):
    # Gate weights scaled so the three utterances stop at different steps (checked below).
    model = set_gate(make_tacotron2(seed=3), bias=-3.66, weight_scale=30.0)
    seeds = (100, 101, 102)
    text, text_lengths = pad_texts(TEXTS, pad=5)
    batch = model.infer(text, text_lengths, generators=gens(*seeds))
    lengths = batch.mel_lengths.tolist()
    assert len(set(lengths)) == 3 and min(lengths) > 1, f"test setup: want distinct lengths, got {lengths}"
    assert batch.mel_postnet.shape[2] == max(lengths)
    for b, (t, seed) in enumerate(zip(TEXTS, seeds, strict=True)):
        alone = model.infer(torch.tensor([t]), torch.tensor([len(t)]), generators=gens(seed))
        n = alone.mel_lengths.item()
        assert n == lengths[b]
        assert alone.truncated.item() == batch.truncated[b].item()
        torch.testing.assert_close(batch.mel_postnet[b, :, :n], alone.mel_postnet[0], rtol=0, atol=1e-4)
        torch.testing.assert_close(batch.alignments[b, :n, : len(t)], alone.alignments[0], rtol=0, atol=1e-4)
        assert torch.all(batch.mel_postnet[b, :, n:] == 0)
        assert torch.all(batch.alignments[b, :, len(t) :] == 0)


def test_infer_same_seed_reproduces_and_different_seed_differs(make_tacotron2):
    model = set_gate(make_tacotron2(), bias=-50.0)
    text, text_lengths = pad_texts(TEXTS[:2])
    a = model.infer(text, text_lengths, generators=gens(7, 8), max_decoder_steps=10)
    b = model.infer(text, text_lengths, generators=gens(7, 8), max_decoder_steps=10)
    c = model.infer(text, text_lengths, generators=gens(7, 9), max_decoder_steps=10)
    assert torch.equal(a.mel_postnet, b.mel_postnet)
    assert torch.equal(a.mel_postnet[0], c.mel_postnet[0])
    assert not torch.allclose(a.mel_postnet[1], c.mel_postnet[1])


def test_infer_without_prenet_dropout_is_deterministic(make_tacotron2):
    model = set_gate(make_tacotron2(), bias=-50.0)
    text, text_lengths = pad_texts(TEXTS)
    torch.manual_seed(1)
    a = model.infer(text, text_lengths, prenet_dropout=False, max_decoder_steps=10)
    torch.manual_seed(2)
    b = model.infer(text, text_lengths, prenet_dropout=False, max_decoder_steps=10)
    assert torch.equal(a.mel_postnet, b.mel_postnet)
    # With dropout and no generators, the global random state drives it.
    torch.manual_seed(1)
    c = model.infer(text, text_lengths, max_decoder_steps=10)
    torch.manual_seed(2)
    d = model.infer(text, text_lengths, max_decoder_steps=10)
    assert not torch.allclose(c.mel_postnet, d.mel_postnet)


def test_infer_rejects_bad_arguments(make_tacotron2):
    model = make_tacotron2()
    text, text_lengths = pad_texts(TEXTS[:2])
    with pytest.raises(ValueError, match="one generator per utterance"):
        model.infer(text, text_lengths, generators=gens(1))
    with pytest.raises(ValueError, match="text lengths"):
        model.infer(text, torch.tensor([7, 0]))
    with pytest.raises(ValueError, match="max_decoder_steps"):
        model.infer(text, text_lengths, max_decoder_steps=0)


class ScriptedGate(torch.nn.Module):
    """Stands in for the gate layer: item b's gate fires (logit +50) from decoder step ``stop_steps[b]`` on."""

    def __init__(self, stop_steps: list[int]) -> None:
        super().__init__()
        self.stop_steps = torch.tensor(stop_steps)
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: [B, decoder_rnn_dim + memory_dim] -> [B, 1] logits."""
        self.calls += 1
        return torch.where(self.calls >= self.stop_steps, 50.0, -50.0)[:, None].to(x.dtype)


@pytest.mark.parametrize("r", [2, 3])
def test_forward_shapes_with_frames_per_step(make_tacotron2, r):
    model = make_tacotron2(n_frames_per_step=r)
    assert model.decoder.prenet.layers[0].linear_layer.weight.shape == (16, 8)  # one frame in
    assert model.decoder.linear_projection.linear_layer.weight.shape == (8 * r, 24 + 16)  # r frames out
    text, text_lengths = pad_texts(TEXTS[:2])
    mel_lengths = torch.tensor([11, 7])
    out = model(text, text_lengths, torch.randn(2, 8, 11), mel_lengths)  # 11 frames: not whole steps
    n_steps = -(-11 // r)
    assert out.mel.shape == out.mel_postnet.shape == (2, 8, 11)
    assert out.gate.shape == (2, n_steps)
    assert out.alignments.shape == (2, 11, 7)
    last_step = -(-7 // r)  # steps holding a real frame of the 7-frame mel
    assert torch.all(out.gate[1, last_step:] == GATE_PADDING_LOGIT) and torch.all(out.gate[1, :last_step] < 100)
    assert torch.all(out.gate[0] < 100)
    assert torch.all(out.mel_postnet[1, :, 7:] == 0) and out.mel_postnet[1, :, :7].abs().sum() > 0
    # Attention runs once per step: its weights repeat over the step's r frames and sum to one.
    torch.testing.assert_close(out.alignments[0, :r], out.alignments[0, :1].expand(r, -1), rtol=0, atol=0)
    assert not torch.equal(out.alignments[0, 0], out.alignments[0, r])
    torch.testing.assert_close(out.alignments[1, :7].sum(-1), torch.ones(7))
    assert torch.all(out.alignments[1, 7:] == 0)


@pytest.mark.parametrize("r", [2, 3])
def test_teacher_forcing_feeds_the_last_frame_of_each_step(make_tacotron2, r):
    model = make_tacotron2(n_frames_per_step=r)
    text, text_lengths = pad_texts(TEXTS[:1])
    mels, mel_lengths = torch.randn(1, 8, 4 * r), torch.tensor([4 * r])
    ref = model(text, text_lengths, mels, mel_lengths, prenet_dropout=False)
    # Frames other than the last of a step are targets only: changing them changes nothing.
    not_last = [t for t in range(4 * r) if t % r != r - 1]
    changed = mels.clone()
    changed[:, :, not_last] += 3.0
    same = model(text, text_lengths, changed, mel_lengths, prenet_dropout=False)
    torch.testing.assert_close(same.mel_postnet, ref.mel_postnet, rtol=0, atol=0)
    # The last frame of step 0 (frame r - 1) is step 1's input: the first step stays, later frames move.
    changed = mels.clone()
    changed[:, :, r - 1] += 3.0
    out = model(text, text_lengths, changed, mel_lengths, prenet_dropout=False)
    torch.testing.assert_close(out.mel[:, :, :r], ref.mel[:, :, :r], rtol=0, atol=0)
    assert not torch.allclose(out.mel[:, :, r:], ref.mel[:, :, r:])


@pytest.mark.parametrize("r", [1, 3])
def test_teacher_forcing_zero_runs_free_like_infer(make_tacotron2, r):
    """With teacher_forcing 0 the training pass reads its own frames: the same mels as inference."""
    model = set_gate(make_tacotron2(n_frames_per_step=r), bias=-50.0).eval()
    text, text_lengths = pad_texts(TEXTS[:2])
    free = model.infer(text, text_lengths, prenet_dropout=False, max_decoder_steps=5 * r)
    targets = torch.randn(2, 8, 5 * r)  # only the go frame is read: their values do not matter
    out = model(text, text_lengths, targets, torch.tensor([5 * r, 5 * r]), prenet_dropout=False, teacher_forcing=0.0)
    torch.testing.assert_close(out.mel_postnet, free.mel_postnet, rtol=1e-5, atol=1e-5)
    forced = model(text, text_lengths, targets, torch.tensor([5 * r, 5 * r]), prenet_dropout=False)
    assert not torch.allclose(forced.mel_postnet, free.mel_postnet)  # teacher forcing reads the targets


def test_scheduled_sampling_mixes_true_and_own_frames_per_item(make_tacotron2):
    r, n_steps = 2, 40
    model = make_tacotron2(n_frames_per_step=r).eval()
    text, text_lengths = pad_texts(TEXTS[:2])
    mels, mel_lengths = torch.randn(2, 8, n_steps * r), torch.tensor([n_steps * r, n_steps * r])
    inputs, outputs = [], []
    model.decoder.prenet.register_forward_hook(lambda module, args, out: inputs.append(args[0].clone()))
    model.decoder.linear_projection.register_forward_hook(lambda module, args, out: outputs.append(out.clone()))
    torch.manual_seed(0)
    model(text, text_lengths, mels, mel_lengths, prenet_dropout=False, teacher_forcing=0.5)
    true_frames = mels[:, :, r - 1 :: r].permute(2, 0, 1)
    own = [(inputs[k] == outputs[k - 1][:, -8:]).all(dim=1) for k in range(1, n_steps)]
    true = [(inputs[k] == true_frames[k - 1]).all(dim=1) for k in range(1, n_steps)]
    own, true = torch.stack(own), torch.stack(true)
    assert torch.all(own ^ true)  # every input is one or the other
    assert 0.25 < own.float().mean() < 0.75 and not torch.equal(own[:, 0], own[:, 1])  # drawn per item
    with pytest.raises(ValueError, match="teacher_forcing"):
        model(text, text_lengths, mels, mel_lengths, teacher_forcing=1.5)


@pytest.mark.parametrize("r", [1, 3])
def test_attention_forcing_with_the_models_own_attention_changes_nothing(make_tacotron2, r):
    """Forced to attend as it would anyway, the decoder gives the same outputs, to the last bit."""
    model = make_tacotron2(n_frames_per_step=r)
    text, text_lengths = pad_texts(TEXTS[:2])
    mels, mel_lengths = torch.randn(2, 8, 11), torch.tensor([11, 7])  # 11 frames: not whole steps
    plain = model(text, text_lengths, mels, mel_lengths, prenet_dropout=False)
    forced = model(text, text_lengths, mels, mel_lengths, prenet_dropout=False, forced_alignment=plain.alignments)
    for name in ("mel", "mel_postnet", "gate", "alignments"):
        torch.testing.assert_close(getattr(forced, name), getattr(plain, name), rtol=0, atol=0, msg=name)


def test_attention_forcing_reads_the_memory_with_the_given_weights(make_tacotron2):
    """Forced weights decide what the decoder reads; the alignments returned are still its own."""
    r = 2
    model = make_tacotron2(n_frames_per_step=r)
    text, text_lengths = pad_texts(TEXTS[:1])
    mels, mel_lengths = torch.randn(1, 8, 10), torch.tensor([10])
    plain = model(text, text_lengths, mels, mel_lengths, prenet_dropout=False)
    outputs = {}
    for position in (0, 6):
        forced = torch.zeros(1, 10, 7)
        forced[:, :, position] = 1.0
        out = model(text, text_lengths, mels, mel_lengths, prenet_dropout=False, forced_alignment=forced)
        outputs[position] = out
        torch.testing.assert_close(out.alignments.sum(-1), torch.ones(1, 10))
        assert not torch.allclose(out.alignments, forced)
    assert not torch.allclose(outputs[0].mel, outputs[6].mel)
    assert not torch.allclose(outputs[0].mel, plain.mel)
    # The first step's own attention sees no forced weights yet (its previous weights are the zero state).
    torch.testing.assert_close(outputs[0].alignments[:, :r], plain.alignments[:, :r], rtol=0, atol=0)
    with pytest.raises(ValueError, match="forced_alignment"):
        model.decoder(torch.randn(1, 7, 16), torch.ones(1, 7, dtype=torch.bool), mels, False, 1.0, torch.ones(1, 4, 7))


def test_infer_feeds_the_last_frame_of_each_step(make_tacotron2):
    r, n_mel = 3, 8
    model = set_gate(make_tacotron2(n_frames_per_step=r), bias=-50.0)
    prenet_inputs, step_outputs = [], []
    model.decoder.prenet.register_forward_hook(lambda module, args, out: prenet_inputs.append(args[0].clone()))
    model.decoder.linear_projection.register_forward_hook(lambda module, args, out: step_outputs.append(out.clone()))
    text, text_lengths = pad_texts(TEXTS[:2])
    out = model.infer(text, text_lengths, prenet_dropout=False, max_decoder_steps=4 * r)
    assert len(prenet_inputs) == len(step_outputs) == 4
    assert torch.all(prenet_inputs[0] == 0) and prenet_inputs[0].shape == (2, n_mel)  # the go frame
    for k in range(1, 4):
        torch.testing.assert_close(prenet_inputs[k], step_outputs[k - 1][:, -n_mel:], rtol=0, atol=0)
        assert not torch.allclose(prenet_inputs[k], step_outputs[k - 1][:, :n_mel])
    assert out.mel_lengths.tolist() == [4 * r, 4 * r]


@pytest.mark.parametrize("r", [2, 3])
def test_infer_stops_on_the_gate_in_whole_steps(make_tacotron2, r):
    model = make_tacotron2(n_frames_per_step=r)
    model.decoder.gate_layer = ScriptedGate([2, 4, 3])
    text, text_lengths = pad_texts(TEXTS)
    out = model.infer(text, text_lengths, generators=gens(1, 2, 3))
    assert model.decoder.gate_layer.calls == 4  # the loop ends once every gate has fired
    assert out.mel_lengths.tolist() == [2 * r, 4 * r, 3 * r]
    assert out.truncated.tolist() == [False] * 3
    assert out.mel_postnet.shape == (3, 8, 4 * r) and out.alignments.shape == (3, 4 * r, 13)
    for b, n in enumerate(out.mel_lengths.tolist()):
        assert torch.all(out.mel_postnet[b, :, n:] == 0) and torch.all(out.alignments[b, n:] == 0)
        assert out.mel_postnet[b, :, n - 1].abs().sum() > 0  # the fired step's frames are all kept
    # The real gate layer, fired on the first step, gives one step of r frames.
    out = set_gate(make_tacotron2(n_frames_per_step=r), bias=50.0).infer(text, text_lengths, generators=gens(1, 2, 3))
    assert out.mel_lengths.tolist() == [r] * 3 and out.mel_postnet.shape == (3, 8, r)


@pytest.mark.parametrize(("r", "limit", "frames"), [(2, 7, 8), (3, 7, 9), (3, 9, 9)])
def test_infer_frame_limit_is_rounded_up_to_whole_steps(make_tacotron2, r, limit, frames):
    model = set_gate(make_tacotron2(n_frames_per_step=r), bias=-50.0)
    text, text_lengths = pad_texts(TEXTS[:2])
    out = model.infer(text, text_lengths, generators=gens(1, 2), max_decoder_steps=limit)
    assert out.mel_lengths.tolist() == [frames, frames] and out.truncated.tolist() == [True, True]
    assert out.mel_postnet.shape == (2, 8, frames)


def test_batched_infer_equals_each_utterance_alone_with_frames_per_step(make_tacotron2):
    model = make_tacotron2(seed=3, n_frames_per_step=2)
    stops, seeds = [3, 5, 2], (100, 101, 102)
    model.decoder.gate_layer = ScriptedGate(stops)
    text, text_lengths = pad_texts(TEXTS, pad=5)
    batch = model.infer(text, text_lengths, generators=gens(*seeds))
    for b, (t, seed) in enumerate(zip(TEXTS, seeds, strict=True)):
        model.decoder.gate_layer = ScriptedGate([stops[b]])
        alone = model.infer(torch.tensor([t]), torch.tensor([len(t)]), generators=gens(seed))
        n = alone.mel_lengths.item()
        assert n == batch.mel_lengths[b].item() == 2 * stops[b]
        torch.testing.assert_close(batch.mel_postnet[b, :, :n], alone.mel_postnet[0], rtol=0, atol=1e-4)
        torch.testing.assert_close(batch.alignments[b, :n, : len(t)], alone.alignments[0], rtol=0, atol=1e-4)


def test_acoustic_model_returns_real_frame_counts(make_tacotron2):
    from tts_pipeline_tacotron2.acoustic import Tacotron2Acoustic, Tacotron2Options

    model = make_tacotron2(n_symbols=148, n_frames_per_step=3)
    model.decoder.gate_layer = ScriptedGate([4, 4])
    acoustic = Tacotron2Acoustic(model, Tacotron2Options(prenet_dropout=False), torch.device("cpu"))
    outputs = acoustic.synthesize(["Hello there.", "Hi."])
    assert [o.mel.shape for o in outputs] == [(8, 12), (8, 12)]
    assert [o.alignment.shape[0] for o in outputs] == [12, 12] and not any(o.truncated for o in outputs)


def test_config_round_trip_and_presets():
    for config in PRESETS.values():
        assert Tacotron2Config.from_dict(config.to_dict()) == config
    assert Tacotron2Config.from_dict({}) == Tacotron2Config()
    small = Tacotron2(PRESETS["small"])
    assert sum(p.numel() for p in small.parameters()) < 5_000_000


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"n_mel_channel": 80}, "unknown key 'n_mel_channel'"),
        ({"prenet_dim": 0}, "prenet_dim must be at least 1"),
        ({"decoder_rnn_dim": "1024"}, "decoder_rnn_dim must be an integer"),
        ({"encoder_n_convolutions": 2.0}, "encoder_n_convolutions must be an integer"),
        ({"p_prenet_dropout": 1.0}, "p_prenet_dropout is a dropout probability"),
        ({"gate_threshold": 1.5}, "gate_threshold is a probability"),
        ({"encoder_embedding_dim": 511}, "must be even"),
        ({"attention_location_kernel_size": 30}, "must be odd"),
        ({"n_frames_per_step": 0}, "n_frames_per_step must be at least 1"),
        ({"n_frames_per_step": 9}, "n_frames_per_step must be at most 8"),
    ],
)
def test_config_errors(changes, message):
    with pytest.raises(ConfigError, match=message):
        Tacotron2Config.from_dict(changes)


def test_config_from_dict_rejects_non_dict():
    with pytest.raises(ConfigError, match="must be a table"):
        Tacotron2Config.from_dict([("n_symbols", 10)])
