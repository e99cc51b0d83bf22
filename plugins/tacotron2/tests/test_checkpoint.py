"""Tests of Tacotron2 checkpoint loading: every layout gives the same model; wrong and broken files fail
with a CheckpointError that says what is wrong."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest
import torch
from tts_pipeline_tacotron2.checkpoint import (
    LoadedTacotron2,
    build_tacotron2,
    infer_config,
    load_tacotron2_checkpoint,
    save_tacotron2,
)
from tts_pipeline_tacotron2.config import PRESETS
from tts_pipeline_tacotron2.model import Tacotron2

from tts_pipeline.errors import CheckpointError, ConfigError
from tts_pipeline.weights import save_model_file

TEXT = torch.tensor([[3, 4, 5, 6, 7, 8, 9], [10, 11, 12, 0, 0, 0, 0]])
TEXT_LENGTHS = torch.tensor([7, 3])


def synthesize(model: Tacotron2) -> torch.Tensor:
    gens = [torch.Generator().manual_seed(s) for s in (1, 2)]
    return model.infer(TEXT, TEXT_LENGTHS, generators=gens, max_decoder_steps=12).mel_postnet


@pytest.fixture
def tiny(make_tacotron2) -> Tacotron2:
    # A gate that never fires, so every layout decodes the full 12 steps.
    model = make_tacotron2(seed=4)
    with torch.no_grad():
        model.decoder.gate_layer.linear_layer.bias.fill_(-50.0)
    return model


def _optimizer_state(model: Tacotron2) -> dict:
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    out = model(TEXT, TEXT_LENGTHS, torch.randn(2, 8, 5), torch.tensor([5, 4]))
    out.mel.sum().backward()
    optimizer.step()
    model.eval()
    return optimizer.state_dict()


def _write(tmp_path: Path, name: str, obj, legacy: bool = False) -> Path:
    path = tmp_path / name
    torch.save(obj, path, _use_new_zipfile_serialization=not legacy)
    return path


def test_every_layout_gives_the_same_model(tiny, tmp_path):
    optimizer_state = _optimizer_state(tiny)
    reference = synthesize(tiny)
    state = tiny.state_dict()
    prefixed = {"module." + k: v for k, v in state.items()}
    save_tacotron2(tmp_path / "own.safetensors", tiny)
    files = {
        "nvidia-checkpoint": _write(
            tmp_path,
            "train.pt",
            {"state_dict": state, "optimizer": optimizer_state, "learning_rate": 5e-4, "iteration": 1234},
        ),
        "nvidia-state-dict": _write(tmp_path, "published.pt", {"state_dict": state}, legacy=True),
        "state-dict": _write(tmp_path, "bare.pt", state),
        "state-dict+module-prefix": _write(tmp_path, "module.pt", prefixed),
        "nvidia-checkpoint+module-prefix": _write(
            tmp_path, "ddp.pt", {"state_dict": prefixed, "optimizer": optimizer_state, "iteration": 9}
        ),
        "safetensors": tmp_path / "own.safetensors",
    }
    for layout, path in files.items():
        loaded = load_tacotron2_checkpoint(path)
        assert loaded.layout == layout, path
        # Only the own format stores the decoding settings; shapes give the rest.
        defaults = {} if layout == "safetensors" else {"max_decoder_steps": 1000}
        assert loaded.config == tiny.config.replace(**defaults)
        model = build_tacotron2(loaded)
        assert not model.training
        assert torch.equal(synthesize(model), reference), layout

    train = load_tacotron2_checkpoint(files["nvidia-checkpoint"])
    assert train.iteration == 1234 and train.learning_rate == pytest.approx(5e-4)
    assert train.optimizer_state["param_groups"][0]["lr"] == pytest.approx(1e-3)
    torch.testing.assert_close(train.optimizer_state["state"][0]["exp_avg"], optimizer_state["state"][0]["exp_avg"])
    bare = load_tacotron2_checkpoint(files["state-dict"])
    assert bare.iteration is None and bare.learning_rate is None and bare.optimizer_state is None


def test_config_is_inferred_from_shapes(make_tacotron2):
    model = make_tacotron2(
        encoder_n_convolutions=3, postnet_n_convolutions=4, postnet_kernel_size=5, n_symbols=33, gate_threshold=0.7
    )
    config = infer_config(model.state_dict())
    # Sizes come from the tensors; decoding settings take their defaults.
    assert config == model.config.replace(gate_threshold=0.5, max_decoder_steps=1000)
    with torch.device("meta"):
        published = Tacotron2(PRESETS["published"])
    assert infer_config(published.state_dict()) == PRESETS["published"]


def test_old_checkpoint_without_batch_norm_counters_loads(tiny, tmp_path):
    state = {k: v for k, v in tiny.state_dict().items() if not k.endswith("num_batches_tracked")}
    model = build_tacotron2(load_tacotron2_checkpoint(_write(tmp_path, "old.pt", {"state_dict": state})))
    assert torch.equal(synthesize(model), synthesize(tiny))


def test_checkpoint_that_does_not_fit(tiny, tmp_path):
    state = dict(tiny.state_dict())
    del state["decoder.gate_layer.linear_layer.bias"]
    state["decoder.extra.weight"] = torch.zeros(3)
    state["decoder.prenet.layers.0.linear_layer.weight"] = torch.zeros(16, 9)
    loaded = load_tacotron2_checkpoint(_write(tmp_path, "bad.pt", state))
    with pytest.raises(CheckpointError, match="does not fit") as info:
        build_tacotron2(loaded)
    message = str(info.value)
    assert "missing 'decoder.gate_layer.linear_layer.bias'" in message
    assert "unexpected 'decoder.extra.weight'" in message
    assert "(16, 9)" in message and "\n" not in message


def test_non_tacotron2_state_dict(tmp_path):
    path = _write(tmp_path, "other.pt", {"encoder.weight": torch.zeros(2, 2)})
    with pytest.raises(CheckpointError, match="not a Tacotron2 checkpoint: it has no 'embedding.weight'"):
        load_tacotron2_checkpoint(path)
    with pytest.raises(CheckpointError, match="holds a list"):
        load_tacotron2_checkpoint(_write(tmp_path, "list.pt", [torch.zeros(1)]))
    with pytest.raises(CheckpointError, match="not a named tensor"):
        load_tacotron2_checkpoint(_write(tmp_path, "mixed.pt", {"embedding.weight": 3}))


WAVEGLOW_STATE = {
    "upsample.weight": torch.zeros(80, 80, 4),
    "WN.0.start.weight": torch.zeros(8, 4, 1),
    "convinv.0.conv.weight": torch.zeros(8, 8, 1),
}


@pytest.mark.parametrize(
    "obj",
    [
        WAVEGLOW_STATE,
        {"module." + k: v for k, v in WAVEGLOW_STATE.items()},
        {"model": WAVEGLOW_STATE, "iteration": 3},
        {"state_dict": WAVEGLOW_STATE},
    ],
    ids=["bare", "module-prefix", "model-dict", "state_dict"],
)
def test_waveglow_state_dicts_are_named(tmp_path, obj):
    with pytest.raises(CheckpointError, match="looks like a WaveGlow checkpoint, not Tacotron2"):
        load_tacotron2_checkpoint(_write(tmp_path, "waveglow.pt", obj))


@pytest.mark.filterwarnings("ignore:Couldn't retrieve source code")
def test_waveglow_whole_module_pickle_is_named(tmp_path, monkeypatch):
    # NVIDIA's waveglow_256channels*.pt pickle a `glow.WaveGlow` module under 'model'.
    glow = types.ModuleType("glow")

    class WaveGlow(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.upsample = torch.nn.ConvTranspose1d(4, 4, 2)

    WaveGlow.__module__, WaveGlow.__qualname__ = "glow", "WaveGlow"
    glow.WaveGlow = WaveGlow
    monkeypatch.setitem(sys.modules, "glow", glow)
    for legacy in (False, True):
        path = _write(tmp_path, f"waveglow_{legacy}.pt", {"model": WaveGlow(), "iteration": 1}, legacy=legacy)
        with pytest.raises(CheckpointError, match="looks like a WaveGlow checkpoint, not Tacotron2"):
            load_tacotron2_checkpoint(path)


def test_other_pickled_objects_are_refused(tmp_path):
    path = _write(tmp_path, "module.pt", {"model": torch.nn.Linear(2, 2)})
    with pytest.raises(CheckpointError, match="refusing to load"):
        load_tacotron2_checkpoint(path)


def test_safetensors_of_another_model_type(tiny, tmp_path):
    path = tmp_path / "wg.safetensors"
    save_model_file(path, "waveglow", {}, {"upsample.weight": torch.zeros(2)})
    with pytest.raises(CheckpointError, match="looks like a WaveGlow checkpoint"):
        load_tacotron2_checkpoint(path)
    save_model_file(path, "hifigan", {}, {"x": torch.zeros(2)})
    with pytest.raises(CheckpointError, match="is a 'hifigan' model file, not tacotron2"):
        load_tacotron2_checkpoint(path)
    save_model_file(path, "tacotron2", {"prenet_dims": 3}, tiny.state_dict())
    with pytest.raises(CheckpointError, match="unknown key 'prenet_dims'"):
        load_tacotron2_checkpoint(path)


def test_corrupt_and_missing_files(tiny, tmp_path):
    good = _write(tmp_path, "good.pt", {"state_dict": tiny.state_dict()})
    data = good.read_bytes()
    save_tacotron2(tmp_path / "good.safetensors", tiny)
    st_data = (tmp_path / "good.safetensors").read_bytes()
    broken = {
        "truncated.pt": data[: len(data) // 2],
        "legacy-truncated.pt": b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19.",
        "garbage.pt": b"this is not a checkpoint at all" * 10,
        "empty.pt": b"",
        "truncated.safetensors": st_data[: len(st_data) // 2],
    }
    for name, content in broken.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(CheckpointError) as info:
            load_tacotron2_checkpoint(path)
        assert "\n" not in str(info.value), name
    with pytest.raises(CheckpointError, match="not found"):
        load_tacotron2_checkpoint(tmp_path / "missing.pt")


def test_build_from_loaded_object_in_memory(tiny):
    loaded = LoadedTacotron2(config=tiny.config, state_dict=tiny.state_dict(), layout="state-dict")
    assert torch.equal(synthesize(build_tacotron2(loaded)), synthesize(tiny))


def test_frames_per_step_is_read_from_shapes(make_tacotron2, tmp_path):
    model = make_tacotron2(seed=4, n_frames_per_step=3)
    with torch.no_grad():
        model.decoder.gate_layer.linear_layer.bias.fill_(-50.0)
    save_tacotron2(tmp_path / "r3.safetensors", model)
    files = [_write(tmp_path, "r3.pt", {"state_dict": model.state_dict()}), tmp_path / "r3.safetensors"]
    for path in files:
        loaded = load_tacotron2_checkpoint(path)
        assert loaded.config.n_frames_per_step == 3 and loaded.config.n_mel_channels == 8
        assert torch.equal(synthesize(build_tacotron2(loaded)), synthesize(model)), path


def test_prenet_reading_a_whole_step_is_refused(make_tacotron2, tmp_path):
    # NVIDIA's early code fed the prenet all r frames of a step; this decoder feeds it the last one.
    state = dict(make_tacotron2(n_frames_per_step=3).state_dict())
    state["decoder.prenet.layers.0.linear_layer.weight"] = torch.zeros(16, 8 * 3)
    with pytest.raises(CheckpointError, match="n_frames_per_step = 3 whose prenet reads all frames") as info:
        load_tacotron2_checkpoint(_write(tmp_path, "nvidia_r3.pt", {"state_dict": state}))
    assert "\n" not in str(info.value)


# Damaged and crafted files (a fuzz audit of the loaders): each fails with a one-line CheckpointError, before
# the model takes any memory.


def _refused(path: Path, match: str) -> str:
    with pytest.raises(CheckpointError, match=match) as info:
        load_tacotron2_checkpoint(path)
    message = str(info.value)
    assert "\n" not in message and "\x1b" not in message
    return message


def _own_file(path: Path, model: Tacotron2, model_type: str = "tacotron2", state=None, **config_changes) -> Path:
    """The model in the project's safetensors format, with its config (and state) changed."""
    config = model.config.to_dict() | config_changes
    save_model_file(path, model_type, config, model.state_dict() if state is None else state)
    return path


@pytest.mark.parametrize("dtype", [torch.int64, torch.bool, torch.complex64])
def test_weights_that_are_not_floats_are_refused(tiny, tmp_path, dtype):
    key = "decoder.attention_rnn.weight_ih"
    state = dict(tiny.state_dict())
    state[key] = (100 * state[key]).to(dtype)
    match = f"weight '{key}' holds {str(dtype)[6:]} values, not float weights"
    _refused(_own_file(tmp_path / "own.safetensors", tiny, state=state), match)
    _refused(_write(tmp_path, "state.pt", {"state_dict": state}), match)
    # the batch-norm step counters are integers
    assert state["postnet.convolutions.0.1.num_batches_tracked"].dtype == torch.int64


@pytest.mark.parametrize(
    "field, value",
    [("n_symbols", 10**9), ("postnet_n_convolutions", 10**5), ("decoder_rnn_dim", 10**6), ("n_mel_channels", 10**4)],
)
def test_sizes_far_beyond_any_model_are_refused(tiny, tmp_path, field, value):
    with pytest.raises(ConfigError, match=f"{field} must be at most"):
        tiny.config.replace(**{field: value})
    _refused(_own_file(tmp_path / "huge.safetensors", tiny, **{field: value}), f"{field} must be at most")


def test_a_config_that_does_not_fit_the_tensors_is_refused_before_building(tiny, tmp_path, monkeypatch):
    def never(config):
        raise AssertionError(f"a Tacotron2 of {config} was built before its tensors were checked")

    monkeypatch.setattr("tts_pipeline_tacotron2.checkpoint.Tacotron2", never)
    loaded = load_tacotron2_checkpoint(_own_file(tmp_path / "deep.safetensors", tiny, postnet_n_convolutions=64))
    with pytest.raises(CheckpointError, match=r"does not fit .*: missing 'postnet.convolutions.3.0.conv.weight'"):
        build_tacotron2(loaded)
    loaded = load_tacotron2_checkpoint(_own_file(tmp_path / "wide.safetensors", tiny, n_symbols=60000))
    with pytest.raises(CheckpointError, match=r"embedding.weight has shape \(20, 16\), the model needs \(60000, 16\)"):
        build_tacotron2(loaded)


def test_state_shapes_are_the_models(make_tacotron2):
    from tts_pipeline_tacotron2.checkpoint import state_shapes

    for changes in ({}, {"n_frames_per_step": 3, "encoder_n_convolutions": 1, "postnet_n_convolutions": 2}):
        model = make_tacotron2(symbols_embedding_dim=12, **changes)
        shapes = {key: tuple(tensor.shape) for key, tensor in model.state_dict().items()}
        assert list(state_shapes(model.config).items()) == list(shapes.items())


def test_tensors_of_the_wrong_rank_or_empty_are_named(tiny, tmp_path):
    state = dict(tiny.state_dict())
    state["embedding.weight"] = state["embedding.weight"].reshape(-1).clone()
    _refused(
        _write(tmp_path, "flat.pt", state), r"weight 'embedding.weight' has shape \(320,\), but a Tacotron2's has 2"
    )
    state = dict(tiny.state_dict())
    state["postnet.convolutions.0.0.conv.weight"] = state["postnet.convolutions.0.0.conv.weight"][:, :0].clone()
    _refused(_write(tmp_path, "empty.pt", state), r"'postnet.convolutions.0.0.conv.weight' has shape \(16, 0, 3\)")


def test_messages_show_deeply_nested_keys_safely(tmp_path, monkeypatch):
    key: tuple = ()
    for _ in range(5000):  # repr() of this raises RecursionError
        key = (key,)
    monkeypatch.setattr("tts_pipeline_tacotron2.checkpoint.safe_torch_load", lambda path: {key: torch.zeros(1)})
    _refused(_write(tmp_path, "deep.pt", {}), "entry <a tuple nested too deeply to show> is not a named tensor")


def test_a_zip_with_a_damaged_entry_name(tiny, tmp_path):
    data = bytearray(_write(tmp_path, "good.pt", {"state_dict": tiny.state_dict()}).read_bytes())
    entry = data.rindex(b"PK\x01\x02")  # the last central-directory record; its name starts 46 bytes in
    data[entry + 46 + 3] = 0xFF  # not UTF-8, which the record's flags promise
    (tmp_path / "bad_name.pt").write_bytes(bytes(data))
    _refused(tmp_path / "bad_name.pt", "cannot read checkpoint")


def test_strings_from_the_file_are_escaped_in_messages(tiny, tmp_path):
    _refused(
        _own_file(tmp_path / "escape.safetensors", tiny, model_type="\x1b[2J\x1b[31mok\x07"),
        r"is a '\\x1b\[2J\\x1b\[31mok\\x07' model file, not tacotron2",
    )
    _refused(
        _own_file(tmp_path / "case.safetensors", tiny, model_type="Tacotron2"),
        "gives its model type as 'Tacotron2', not 'tacotron2'",
    )
    _refused(_own_file(tmp_path / "wg.safetensors", tiny, model_type="WaveGlow"), "looks like a WaveGlow checkpoint")
    state = {"\x1b]0;pwned\x07" + key: value for key, value in tiny.state_dict().items()}
    _refused(_write(tmp_path, "keys.pt", state), r"first keys: '\\x1b]0;pwned\\x07embedding.weight'")
    state = dict(tiny.state_dict()) | {"decoder.\x1b[31m": torch.zeros(1)}
    with pytest.raises(CheckpointError, match=r"unexpected 'decoder.\\x1b\[31m'"):
        build_tacotron2(load_tacotron2_checkpoint(_write(tmp_path, "extra.pt", state)))
