"""The WaveGlow model: shapes, invertibility, the likelihood, inference and its preparation."""

import pytest
import torch
from tts_pipeline_waveglow.config import PRESETS, WaveGlowConfig
from tts_pipeline_waveglow.denoiser import Denoiser
from tts_pipeline_waveglow.loss import waveglow_loss
from tts_pipeline_waveglow.model import WaveGlow, group_audio, group_mel, ungroup_audio

from tts_pipeline.errors import ConfigError

TINY = dict(n_flows=6, n_early_every=2, n_early_size=2, n_layers=2, n_channels=16, upsample_kernel=512)


def tiny_model(seed: int = 0, **overrides) -> WaveGlow:
    """A tiny WaveGlow whose couplings are not the identity (random `end` weights)."""
    torch.manual_seed(seed)
    model = WaveGlow(WaveGlowConfig(**{**TINY, **overrides}))
    with torch.no_grad():
        for wn in model.WN:
            wn.end.weight.normal_(0, 0.1)
            wn.end.bias.normal_(0, 0.1)
    return model


def test_grouping_follows_formats_md():
    audio = torch.arange(32.0).view(1, 32)
    grouped = group_audio(audio, 8)
    assert grouped.shape == (1, 8, 4) and grouped[0, 3, 2] == 2 * 8 + 3  # channel j = position j
    assert torch.equal(ungroup_audio(grouped), audio)
    mel = torch.arange(3 * 16.0).view(1, 3, 16)
    g = group_mel(mel, 8)
    assert g.shape == (1, 24, 2)
    for c in range(3):
        for j in range(8):
            assert torch.equal(g[0, c * 8 + j], mel[0, c, j::8])


def test_forward_inverse_round_trip():
    model = tiny_model()
    mel, audio = torch.randn(2, 80, 12), torch.randn(2, 12 * 256) * 0.3
    out = model(mel, audio)
    assert out.z.shape == (2, 8, 12 * 256 // 8)
    assert (out.z - group_audio(audio, 8)).abs().max() > 0.01  # the flow did something
    assert (model.inverse(out.z, mel) - audio).abs().max() < 1e-4


def test_early_outputs_drop_channels_like_the_published_model():
    config = PRESETS["published-256"]
    assert config.flow_channels() == [8] * 4 + [6] * 4 + [4] * 4
    model = tiny_model(n_flows=12, n_early_every=4)
    out = model(torch.randn(1, 80, 4), torch.randn(1, 1024))
    assert [s.shape[1] for s in out.log_s] == [4] * 4 + [3] * 4 + [2] * 4
    assert [convinv.conv.weight.shape[0] for convinv in model.convinv] == config.flow_channels()


def test_loss_matches_the_formula():
    model = tiny_model()
    mel, audio = torch.randn(2, 80, 8), torch.randn(2, 8 * 256) * 0.3
    out = model(mel, audio)
    b, groups, steps = out.z.shape
    log_det = sum(torch.linalg.slogdet(c.conv.weight.squeeze(-1).double())[1] for c in model.convinv)
    expected = (
        out.z.double().pow(2).sum() / (2 * 0.8**2) - sum(s.double().sum() for s in out.log_s) - b * steps * log_det
    ) / (b * groups * steps)
    assert waveglow_loss(out, sigma=0.8).item() == pytest.approx(expected.item(), rel=1e-5)


def test_gradients_reach_every_parameter():
    model = tiny_model()
    waveglow_loss(model(torch.randn(2, 80, 4), torch.randn(2, 1024) * 0.3)).backward()
    for name, param in model.named_parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all(), name
        assert param.grad.abs().sum() > 0, name


def test_infer_shape_seed_and_sigma():
    model = tiny_model().eval()
    mel = torch.randn(1, 80, 10)
    a = model.infer(mel, 0.6, torch.Generator().manual_seed(1))
    b = model.infer(mel, 0.6, torch.Generator().manual_seed(1))
    c = model.infer(mel, 0.6, torch.Generator().manual_seed(2))
    assert a.shape == (1, 10 * 256) and torch.equal(a, b) and not torch.equal(a, c)
    zero = model.infer(mel, 0.0, torch.Generator().manual_seed(3))
    assert torch.equal(zero, model.infer(mel, 0.0))


def test_prepare_for_inference_folds_weight_norm_without_changing_output():
    model = tiny_model().eval()
    mel = torch.randn(2, 80, 10)
    before = model.infer(mel, 0.7, torch.Generator().manual_seed(0))
    assert any(k.endswith("weight_g") for k in model.state_dict())
    model.prepare_for_inference().prepare_for_inference()  # idempotent
    keys = model.state_dict().keys()
    assert not any(k.endswith(("weight_g", "weight_v")) for k in keys) and "WN.0.start.weight" in keys
    after = model.infer(mel, 0.7, torch.Generator().manual_seed(0))
    assert (before - after).abs().max() < 1e-5
    reloaded = WaveGlow(model.config).prepare_for_inference()
    reloaded.load_state_dict(model.state_dict())
    assert torch.equal(reloaded.eval().infer(mel, 0.7, torch.Generator().manual_seed(0)), after)


def test_published_state_dict_names_and_shapes():
    with torch.device("meta"):
        model = WaveGlow(PRESETS["published-256"])
    shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert shapes["upsample.weight"] == (80, 80, 1024)
    assert shapes["WN.0.start.weight_v"] == (256, 4, 1) and shapes["WN.0.start.weight_g"] == (256, 1, 1)
    assert shapes["WN.0.cond_layer.weight_v"] == (2 * 256 * 8, 640, 1)
    assert shapes["WN.0.in_layers.7.weight_v"] == (512, 256, 3)
    assert shapes["WN.0.res_skip_layers.0.weight_v"] == (512, 256, 1)
    assert shapes["WN.0.res_skip_layers.7.weight_v"] == (256, 256, 1)
    assert shapes["WN.0.end.weight"] == (8, 256, 1) and shapes["WN.11.end.weight"] == (4, 256, 1)
    assert shapes["convinv.11.conv.weight"] == (4, 4, 1)
    assert "WN.0.end.weight_g" not in shapes and "upsample.weight_g" not in shapes
    n_params = sum(v.numel() for v in model.parameters())
    assert 87e6 < n_params < 88e6  # the published 256-channel WaveGlow has about 87.7 M parameters


def test_invertible_conv_initialisation():
    model = tiny_model()
    for convinv in model.convinv:
        w = convinv.conv.weight.squeeze(-1)
        assert torch.allclose(w @ w.T, torch.eye(w.shape[0]), atol=1e-5) and torch.det(w) > 0


@pytest.mark.parametrize(
    "bad, needle",
    [
        ({"n_group": 7}, "n_group"),
        ({"kernel_size": 4}, "kernel_size"),
        ({"n_flows": 0}, "n_flows"),
        ({"hop_length": 100}, "hop_length"),
        ({"n_early_size": 8}, "n_early_size"),
        ({"n_channels": True}, "n_channels"),
    ],
)
def test_config_validation(bad, needle):
    with pytest.raises(ConfigError, match=needle):
        WaveGlowConfig(**bad)
    with pytest.raises(ConfigError, match="unknown key 'n_flow'"):
        WaveGlowConfig.from_dict({"n_flow": 3})


def test_denoiser():
    model = tiny_model().eval().prepare_for_inference()
    denoiser = Denoiser(model)
    assert denoiser.bias_spectrum.shape == (513,)
    audio = model.infer(torch.zeros(1, 80, 40), sigma=0.0)  # the model's bias itself
    assert torch.equal(denoiser(audio, 0.0), audio)
    quieter = denoiser(audio, 1.0)
    assert quieter.shape == audio.shape
    assert quieter[:, 2048:-2048].pow(2).mean() < 0.5 * audio[:, 2048:-2048].pow(2).mean()
    single = denoiser(audio[0], 0.1)
    assert single.shape == audio[0].shape and torch.allclose(single, denoiser(audio, 0.1)[0])
    assert Denoiser(model, mode="normal", generator=torch.Generator().manual_seed(0)).bias_spectrum.shape == (513,)
    with pytest.raises(ConfigError):
        denoiser(audio, -1.0)
    assert denoiser(audio[:, :256], 0.1).shape == (1, 256)  # shorter than half a window (a 1-frame mel)
