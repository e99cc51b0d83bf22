"""The fast CPU path and chunked synthesis compute the same function as the reference model."""

import pytest
import torch
from tts_pipeline_waveglow import chunked
from tts_pipeline_waveglow.chunked import context_frames, infer_chunked
from tts_pipeline_waveglow.compiled import CompiledWaveGlow
from tts_pipeline_waveglow.config import PRESETS, WaveGlowConfig
from tts_pipeline_waveglow.fast import AUTO_FOLD_BYTES, FastWaveGlow, folded_conditioning_bytes
from tts_pipeline_waveglow.model import WaveGlow
from tts_pipeline_waveglow.vocoder import WaveGlowOptions, WaveGlowVocoder
from tts_pipeline_waveglow.winograd import WinogradConv, winograd_weights

from tts_pipeline.errors import ConfigError

# deep enough for dilations up to 8, with early outputs, and an upsampler kernel that is not 4 hops
SMALL = dict(n_flows=4, n_early_every=2, n_early_size=2, n_layers=4, n_channels=32, upsample_kernel=640)


def random_model(seed: int = 0, **overrides) -> WaveGlow:
    """A WaveGlow whose every weight matters: random `end` convs and upsampler bias."""
    torch.manual_seed(seed)
    model = WaveGlow(WaveGlowConfig(**{**SMALL, **overrides})).eval()
    with torch.no_grad():
        for wn in model.WN:
            wn.end.weight.normal_(0, 0.1)
            wn.end.bias.normal_(0, 0.1)
            for conv in wn.weight_norm_convs():  # weight norm with gains that differ from the norms
                conv.weight_g.mul_(torch.empty_like(conv.weight_g).uniform_(0.5, 1.5))
        model.upsample.bias.normal_(0, 0.3)
    return model


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).abs().max() / b.abs().max()).item()


@pytest.mark.parametrize("dilation", [1, 2, 8])
@pytest.mark.parametrize("n", [64, 37])  # whole tiles, and a partial last tile
def test_winograd_conv_equals_direct_conv(dilation, n):
    torch.manual_seed(dilation)
    c_in, c_out, row = 16, 24, 3 * dilation
    taps = torch.randn(3, c_in, c_out)
    buf = torch.zeros(row + n + 7 * dilation, c_in)
    buf[row : row + n] = torch.randn(n, c_in)
    out = torch.randn(n, c_out)
    expected = (
        out
        + torch.nn.functional.conv1d(
            buf[row : row + n].t()[None], taps.permute(2, 1, 0), padding=dilation, dilation=dilation
        )[0].t()
    )
    WinogradConv(winograd_weights(taps), dilation).add_to(out, buf, row)
    assert relative_error(out, expected) < 1e-5


@pytest.mark.parametrize("fold", [False, True])
@pytest.mark.parametrize("winograd", [True, False])
@pytest.mark.parametrize("prepared", [False, True])
def test_fast_path_equals_reference(fold, winograd, prepared):
    model = random_model()
    if prepared:
        model.prepare_for_inference()
    mel = torch.randn(2, 80, 23)
    # a small chunk: several chunks per layer and a partial last one
    fast = FastWaveGlow(model, fold_conditioning=fold, winograd=winograd, chunk=64)
    for sigma in (0.0, 0.666):
        expected = model.infer(mel, sigma, torch.Generator().manual_seed(3))
        audio = fast.infer(mel, sigma, torch.Generator().manual_seed(3))
        assert audio.shape == expected.shape == (2, 23 * 256)
        assert relative_error(audio, expected) < 1e-4


def test_fast_path_at_published_depth():
    """Eight layers (dilation up to 128) and twelve flows, with narrow channels to stay quick."""
    model = random_model(n_flows=12, n_early_every=4, n_layers=8, n_channels=16, upsample_kernel=1024)
    mel = torch.randn(1, 80, 50)
    expected = model.infer(mel, 0.666, torch.Generator().manual_seed(0))
    for fold in (False, True):
        audio = FastWaveGlow(model, fold_conditioning=fold).infer(mel, 0.666, torch.Generator().manual_seed(0))
        assert relative_error(audio, expected) < 1e-4


def test_fast_path_refuses_other_kernel_sizes():
    with pytest.raises(ValueError, match="kernel_size 3"):
        FastWaveGlow(random_model(kernel_size=5))


@pytest.mark.parametrize("sigma", [0.0, 0.8])
def test_chunked_synthesis_is_exact(sigma):
    model = random_model()
    before, after = context_frames(model.config)
    assert (before, after) == (4 * (1 + 2 + 4 + 8) // 32 + 1 + 2, 4 * (1 + 2 + 4 + 8) // 32 + 1)
    mel = torch.randn(1, 80, 40)
    whole = model.infer(mel, sigma, torch.Generator().manual_seed(5))
    for engine in (model, FastWaveGlow(model)):
        pieces = infer_chunked(engine, mel, sigma, torch.Generator().manual_seed(5), chunk_frames=7)
        assert relative_error(pieces, whole) < 1e-4


def test_chunked_synthesis_without_context_has_seams(monkeypatch):
    """The check above can fail: with no context the seams differ from the whole."""
    model = random_model()
    mel = torch.randn(1, 80, 40)
    whole = model.infer(mel, 0.0)
    monkeypatch.setattr(chunked, "context_frames", lambda config: (0, 0))
    pieces = infer_chunked(model, mel, 0.0, chunk_frames=7)
    assert relative_error(pieces, whole) > 1e-3


def test_chunked_synthesis_memory_is_bounded_by_the_chunk():
    """Each engine call sees at most chunk + context frames, however long the mel."""
    model = random_model(n_flows=2, n_early_every=4, n_layers=2, n_channels=8)
    before, after = context_frames(model.config)
    seen = []

    class Spy:
        config = model.config

        def inverse(self, z, mel):
            seen.append(mel.shape[-1])
            return model.inverse(z, mel)

    mel = torch.randn(1, 80, 2000)
    audio = infer_chunked(Spy(), mel, 0.5, chunk_frames=100)
    assert audio.shape == (1, 2000 * 256) and torch.isfinite(audio).all()
    assert len(seen) == 20 and max(seen) <= 100 + before + after


def test_vocoder_uses_the_fast_path_on_cpu_float32():
    model = random_model().prepare_for_inference()
    mel = torch.randn(1, 80, 30)
    cpu = torch.device("cpu")
    fast = WaveGlowVocoder(model, WaveGlowOptions(), cpu, torch.float32)
    plain = WaveGlowVocoder(model, WaveGlowOptions(fast_cpu=False), cpu, torch.float32)
    chunk = WaveGlowVocoder(model, WaveGlowOptions(chunk_frames=8), cpu, torch.float32)
    assert isinstance(fast.engine, FastWaveGlow) and fast.model is None  # the engine holds its own weights
    assert plain.engine is model and plain.model is model
    expected = plain.vocode(mel, torch.Generator().manual_seed(1))
    for vocoder in (fast, chunk):
        assert relative_error(vocoder.vocode(mel, torch.Generator().manual_seed(1)), expected) < 1e-4


def test_vocoder_speed_options_are_checked():
    with pytest.raises(ConfigError, match="chunk_frames"):
        WaveGlowOptions(chunk_frames=-1)
    model = random_model().prepare_for_inference()
    folded = WaveGlowVocoder(model, WaveGlowOptions(fold_conditioning=True), torch.device("cpu"), torch.float32)
    assert folded.engine.fold_conditioning
    # by default the conditioning is folded only where that costs little memory
    assert FastWaveGlow(model).fold_conditioning
    assert folded_conditioning_bytes(PRESETS["published-256"]) == 12 * 8 * 32 * (4 * 80 + 1) * 512 * 4  # 2 GB
    assert folded_conditioning_bytes(PRESETS["published-256"]) > AUTO_FOLD_BYTES


def test_compiled_vocoder_equals_the_model():
    """compile = true runs the flows under torch.compile (where the model itself runs): same output,
    whole and in chunks (two input lengths, so a second build is exercised too)."""
    model = random_model().prepare_for_inference()
    cpu = torch.device("cpu")
    plain = WaveGlowVocoder(model, WaveGlowOptions(fast_cpu=False), cpu, torch.float32)
    compiled = WaveGlowVocoder(
        model, WaveGlowOptions(fast_cpu=False, compile=True, chunk_frames=12), cpu, torch.float32
    )
    assert isinstance(compiled.engine, CompiledWaveGlow)
    for frames in (10, 30):
        mel = torch.randn(1, 80, frames)
        expected = plain.vocode(mel, torch.Generator().manual_seed(2))
        assert relative_error(compiled.vocode(mel, torch.Generator().manual_seed(2)), expected) < 1e-4
    # on the CPU in float32 the fast path wins; compile applies only where the model itself runs
    assert isinstance(WaveGlowVocoder(model, WaveGlowOptions(compile=True), cpu, torch.float32).engine, FastWaveGlow)
