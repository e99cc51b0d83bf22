"""Every WaveGlow checkpoint layout of the same weights loads to the same model, without NVIDIA's code.

The reference is an imitation of NVIDIA's classes (nvidia_imitation/glow.py), one per WN generation, whose
own ``infer`` follows that generation's architecture. It is registered as ``glow``/``glow_old`` in
sys.modules only while torch.save runs, so loading proves the original code is not needed.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from types import ModuleType

import pytest
import torch
import torch.nn.backends.thnn  # the getter PyTorch <= 1.0 pickled modules name
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn
from tts_pipeline_waveglow.checkpoint import build_waveglow, load_waveglow_checkpoint, save_waveglow
from tts_pipeline_waveglow.config import WaveGlowConfig

from tts_pipeline.errors import CheckpointError, ConfigError

IMITATION = Path(__file__).parent / "nvidia_imitation" / "glow.py"
WN_CONFIG = dict(n_layers=3, n_channels=8, kernel_size=3)
WAVEGLOW_ARGS = dict(n_mel_channels=80, n_flows=4, n_group=8, n_early_every=2, n_early_size=2, WN_config=WN_CONFIG)
UPSAMPLE = dict(upsample_kernel=512, hop=256)
EXPECTED_CONFIG = WaveGlowConfig(
    n_flows=4, n_early_every=2, n_layers=3, n_channels=8, upsample_kernel=512, hop_length=256
)
TOLERANCE = 1e-4


_IMITATIONS: dict[int, ModuleType] = {}


def imitation_module(generation: int) -> ModuleType:
    """The imitation under the module name NVIDIA's files of that generation use (not put in sys.modules)."""
    if generation not in _IMITATIONS:
        name = "glow_old" if generation == 1 else "glow"
        spec = importlib.util.spec_from_file_location(name, IMITATION)
        module = importlib.util.module_from_spec(spec)
        module.GENERATION = generation
        spec.loader.exec_module(module)
        _IMITATIONS[generation] = module
    return _IMITATIONS[generation]


@contextmanager
def importable(model: nn.Module) -> Iterator[None]:
    """Make the model's imitation module importable (pickle checks that when saving) only inside the block."""
    module = next(m for m in _IMITATIONS.values() if type(model) is m.WaveGlow)
    assert module.__name__ not in sys.modules
    sys.modules[module.__name__] = module
    try:
        yield
    finally:
        del sys.modules[module.__name__]


def save_pickle(path: Path, checkpoint: dict, legacy: bool = False) -> None:
    with importable(checkpoint["model"]):
        torch.save(checkpoint, path, _use_new_zipfile_serialization=not legacy)


def generation_state(reference: dict[str, torch.Tensor], generation: int) -> dict[str, torch.Tensor]:
    """Generation-3 weight-normed tensors rewritten under an older generation's module names (exact split)."""
    nc, n_layers = WN_CONFIG["n_channels"], WN_CONFIG["n_layers"]
    out = {}
    for key, tensor in reference.items():
        fused = re.match(r"(WN\.\d+\.)res_skip_layers\.(\d+)\.(.+)$", key)
        cond = re.match(r"(WN\.\d+\.)cond_layer\.(.+)$", key)
        if generation == 1 and fused:
            wn, i, part = fused.group(1), int(fused.group(2)), fused.group(3)
            if i < n_layers - 1:
                out[f"{wn}res_layers.{i}.{part}"] = tensor[:nc]
                out[f"{wn}skip_layers.{i}.{part}"] = tensor[nc:]
            else:
                out[f"{wn}skip_layers.{i}.{part}"] = tensor
        elif generation in (1, 2) and cond:
            for i in range(n_layers):
                out[f"{cond.group(1)}cond_layers.{i}.{cond.group(2)}"] = tensor[2 * nc * i : 2 * nc * (i + 1)]
        else:
            out[key] = tensor
    return out


@pytest.fixture(scope="module")
def reference() -> dict[str, torch.Tensor]:
    """Random generation-3 weights, scaled so every part of every flow shapes the output."""
    torch.manual_seed(0)
    model = imitation_module(3).WaveGlow(**WAVEGLOW_ARGS, **UPSAMPLE)
    state = {}
    for key, tensor in model.state_dict().items():
        if ".end." in key:
            tensor = 0.05 * torch.randn_like(tensor)
        elif key.endswith("weight_g"):
            tensor = 0.3 + 0.3 * torch.rand_like(tensor)
        elif key.startswith("WN.") and key.endswith("bias"):
            tensor = 0.1 * torch.randn_like(tensor)
        state[key] = tensor.clone()
    return state


@pytest.fixture(scope="module")
def mel() -> torch.Tensor:
    return torch.randn(1, 80, 6, generator=torch.Generator().manual_seed(1)) - 4.0


@pytest.fixture(scope="module")
def reference_audio(reference, mel) -> torch.Tensor:
    with torch.no_grad():
        audio = imitation(3, reference).infer(mel, sigma=0.0)
    assert audio.shape == (1, 6 * 256) and audio.abs().max() > 1e-2  # a non-trivial reference
    return audio


def imitation(generation: int, reference: dict[str, torch.Tensor], weight_norm: bool = True) -> nn.Module:
    """The imitation of ``generation`` holding the reference weights (with or without weight norm)."""
    torch.manual_seed(1)  # the weights are all overwritten
    model = imitation_module(generation).WaveGlow(**WAVEGLOW_ARGS, **UPSAMPLE)
    model.load_state_dict(generation_state(reference, generation), strict=True)
    if not weight_norm:
        for module in model.modules():
            if hasattr(module, "weight_g"):
                nn.utils.remove_weight_norm(module)
    return model


class LegacyBackend:
    """Pickles like a PyTorch <= 1.0 module's ``_backend`` attribute: a call to a removed getter."""

    def __reduce__(self):
        return (torch.nn.backends.thnn._get_thnn_function_backend, ())


def make_old_torch(model: nn.Module) -> None:
    """Make the modules pickle like PyTorch 0.4's: no padding_mode or newer bookkeeping, a _backend."""
    for module in model.modules():
        module.__dict__.pop("_non_persistent_buffers_set", None)
        module.__dict__.pop("_forward_hooks_with_kwargs", None)
        module.__dict__["_backend"] = LegacyBackend()
        if isinstance(module, nn.Conv1d | nn.ConvTranspose1d):
            del module.padding_mode


def vocode(path: Path, mel: torch.Tensor):
    loaded = load_waveglow_checkpoint(path)
    model = build_waveglow(loaded)
    with torch.no_grad():
        audio = model.infer(mel, sigma=0.0)
    return loaded, audio


def assert_close(audio: torch.Tensor, expected: torch.Tensor) -> None:
    assert audio.shape == expected.shape
    difference = (audio - expected).abs().max().item()
    assert difference < TOLERANCE, f"max difference {difference}"


PICKLES = [
    # generation, weight norm, legacy serialization, W_inverse cached, old PyTorch attributes, training file
    pytest.param(1, True, False, False, False, True, id="gen1-wn-zip-training"),
    pytest.param(1, True, True, False, True, False, id="gen1-wn-legacy-torch04"),
    pytest.param(1, False, False, True, False, False, id="gen1-nowm-zip-winverse"),
    pytest.param(1, False, True, False, False, True, id="gen1-nowm-legacy"),
    pytest.param(2, True, False, False, False, True, id="gen2-wn-zip-training"),
    pytest.param(2, True, True, True, False, False, id="gen2-wn-legacy-winverse"),
    pytest.param(2, False, False, False, True, False, id="gen2-nowm-zip-torch04"),
    pytest.param(2, False, True, False, False, False, id="gen2-nowm-legacy"),
    pytest.param(3, True, False, False, False, True, id="gen3-wn-zip-training"),
    pytest.param(3, True, True, True, True, False, id="gen3-wn-legacy-winverse-torch04"),
    pytest.param(3, False, False, True, False, False, id="gen3-nowm-zip-winverse"),
    pytest.param(3, False, True, False, True, True, id="gen3-nowm-legacy-torch04"),
]


@pytest.mark.parametrize("generation, weight_norm, legacy, w_inverse, old_torch, training", PICKLES)
def test_whole_model_pickle(
    tmp_path, reference, mel, reference_audio, generation, weight_norm, legacy, w_inverse, old_torch, training
):
    model = imitation(generation, reference, weight_norm)
    with torch.no_grad():
        own_audio = model.infer(mel, sigma=0.0)  # also caches W_inverse on every invertible conv
    if not w_inverse:
        for flow in model.convinv:
            del flow.W_inverse
    if old_torch:
        make_old_torch(model)
    checkpoint = {"model": model}
    if training:
        optimizer = torch.optim.Adam(model.parameters(), lr=3e-4)
        checkpoint.update(iteration=1234, optimizer=optimizer.state_dict(), learning_rate=3e-4)
    path = tmp_path / "waveglow.pt"
    save_pickle(path, checkpoint, legacy)

    loaded, audio = vocode(path, mel)

    assert "glow" not in sys.modules and "glow_old" not in sys.modules
    assert loaded.config == EXPECTED_CONFIG
    expected_module = "glow_old" if generation == 1 else "glow"
    assert loaded.layout.startswith(f"NVIDIA whole-model pickle, generation {generation} ({expected_module})")
    assert ("weight norm removed" in loaded.layout) == (not weight_norm)
    assert_close(audio, own_audio)
    assert_close(audio, reference_audio)
    assert loaded.iteration == (1234 if training else None)
    assert loaded.learning_rate == (3e-4 if training else None)
    assert (loaded.optimizer_state is not None) == (training and generation == 3 and weight_norm)


def prefixed(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {prefix + key: value for key, value in state.items()}


STATE_DICTS = [
    # generation, weight norm, where the tensors sit, key prefix, legacy serialization
    pytest.param(1, True, None, "", False, id="gen1-bare"),
    pytest.param(1, False, "state_dict", "module.", True, id="gen1-nowm-state_dict-module-legacy"),
    pytest.param(2, True, "state_dict", "module.", False, id="gen2-state_dict-module"),
    pytest.param(2, False, None, "module.1.", False, id="gen2-nowm-bare-module1"),
    pytest.param(3, True, "model", "", True, id="gen3-model-dict-legacy"),
    pytest.param(3, True, "state_dict", "module.1.", False, id="gen3-state_dict-module1"),
    pytest.param(3, False, None, "", False, id="gen3-nowm-bare"),
]


@pytest.mark.parametrize("generation, weight_norm, under, prefix, legacy", STATE_DICTS)
def test_state_dict(tmp_path, reference, mel, reference_audio, generation, weight_norm, under, prefix, legacy):
    state = prefixed(imitation(generation, reference, weight_norm).state_dict(), prefix)
    path = tmp_path / "waveglow_state.pt"
    torch.save(
        state if under is None else {under: state, "iteration": 7}, path, _use_new_zipfile_serialization=not legacy
    )

    loaded, audio = vocode(path, mel)

    assert loaded.config == EXPECTED_CONFIG
    assert loaded.layout.startswith(f"state dict, generation {generation}")
    assert (f"'{prefix}' prefix" in loaded.layout) == bool(prefix)
    assert_close(audio, reference_audio)
    assert loaded.iteration == (None if under is None else 7)


def dle_config(**wn_changes) -> dict:
    """DeepLearningExamples' 'config': the constructor arguments, WN sizes under WN_config."""
    args = {key: value for key, value in WAVEGLOW_ARGS.items() if key != "WN_config"}
    return args | {"WN_config": WN_CONFIG | wn_changes}


def test_deeplearningexamples_training_file(tmp_path, reference, mel, reference_audio):
    model = imitation(2, reference)
    checkpoint = {
        "epoch": 3,
        "config": dle_config(),
        "state_dict": prefixed(model.state_dict(), "module."),
        "optimizer": torch.optim.Adam(model.parameters()).state_dict(),
        "scaler": {"scale": 65536.0, "growth_factor": 2.0, "_growth_tracker": 0},
        "random_rng_state": torch.get_rng_state(),
    }
    path = tmp_path / "dle.pt"
    torch.save(checkpoint, path)

    loaded, audio = vocode(path, mel)

    assert loaded.layout.startswith("DeepLearningExamples training checkpoint, generation 2")
    assert loaded.config == EXPECTED_CONFIG
    assert_close(audio, reference_audio)
    assert loaded.optimizer_state is None  # generation-2 parameters are not the canonical ones


def test_config_disagreeing_with_tensors_is_refused(tmp_path, reference):
    path = tmp_path / "dle.pt"
    torch.save({"config": dle_config(n_channels=512), "state_dict": imitation(2, reference).state_dict()}, path)
    with pytest.raises(CheckpointError, match="n_channels = 512 but its tensors have 8"):
        load_waveglow_checkpoint(path)


def test_safetensors_round_trip_keeps_weight_norm_form(tmp_path, reference, mel, reference_audio):
    model = imitation(1, reference)
    save_pickle(tmp_path / "gen1.pt", {"model": model})
    built = build_waveglow(load_waveglow_checkpoint(tmp_path / "gen1.pt"))
    save_waveglow(tmp_path / "plain.safetensors", built, extra_metadata={"source": "gen1.pt"})
    built.prepare_for_inference()  # folded weights are split again on saving
    save_waveglow(tmp_path / "folded.safetensors", built)

    for name in ("plain", "folded"):
        loaded, audio = vocode(tmp_path / f"{name}.safetensors", mel)
        assert loaded.layout == "tts-pipeline safetensors"
        assert loaded.config == EXPECTED_CONFIG
        assert_close(audio, reference_audio)
        with safe_open(str(tmp_path / f"{name}.safetensors"), framework="pt") as fh:
            keys = set(fh.keys())
            metadata = fh.metadata()
        assert "WN.0.cond_layer.weight_g" in keys and "WN.0.cond_layer.weight" not in keys
        assert "WN.3.end.weight" in keys and "convinv.0.conv.weight" in keys
    assert metadata.get("source") is None
    with safe_open(str(tmp_path / "plain.safetensors"), framework="pt") as fh:
        assert fh.metadata()["source"] == "gen1.pt"


def test_safetensors_of_another_model_type_is_refused(tmp_path):
    from tts_pipeline.weights import save_model_file

    path = tmp_path / "taco.safetensors"
    save_model_file(path, "tacotron2", {}, {"embedding.weight": torch.zeros(2, 2)})
    with pytest.raises(CheckpointError, match="'tacotron2' model, not WaveGlow"):
        load_waveglow_checkpoint(path)


def test_tacotron2_checkpoint_is_named(tmp_path):
    state = {"embedding.weight": torch.zeros(148, 4), "decoder.gate_layer.linear_layer.bias": torch.zeros(1)}
    path = tmp_path / "tacotron2_statedict.pt"
    torch.save({"state_dict": state, "iteration": 1}, path)
    with pytest.raises(CheckpointError, match="looks like a Tacotron2 checkpoint, not WaveGlow") as error:
        load_waveglow_checkpoint(path)
    assert "\n" not in str(error.value)


def test_unknown_layout_lists_what_the_file_holds(tmp_path):
    path = tmp_path / "odd.pt"
    torch.save({"weights": [1, 2], "step": 5}, path)
    with pytest.raises(CheckpointError, match=r"holds 'weights' \(list\), 'step' \(int\)"):
        load_waveglow_checkpoint(path)


def test_state_dict_of_another_model_is_refused(tmp_path):
    path = tmp_path / "other.pt"
    torch.save(nn.Linear(3, 2).state_dict(), path)
    with pytest.raises(CheckpointError, match="keys are not WaveGlow's"):
        load_waveglow_checkpoint(path)


def test_incomplete_state_dict_names_the_missing_tensor(tmp_path, reference):
    state = imitation(3, reference).state_dict()
    del state["WN.2.in_layers.1.weight_v"]
    path = tmp_path / "incomplete.pt"
    torch.save(state, path)
    with pytest.raises(CheckpointError, match="lacks 'WN.2.in_layers.1.weight_v'"):
        load_waveglow_checkpoint(path)


def test_pickled_module_outside_the_allow_list_is_refused(tmp_path):
    path = tmp_path / "linear.pt"
    torch.save({"model": nn.Linear(3, 2)}, path)
    with pytest.raises(CheckpointError, match="torch.nn.modules.linear.Linear"):
        load_waveglow_checkpoint(path)


@pytest.mark.parametrize("content", [b"", b"hello, I am a text file\n" * 4], ids=["empty", "text"])
def test_unreadable_files(tmp_path, content):
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="download or copy it again"):
        load_waveglow_checkpoint(path)


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        load_waveglow_checkpoint(tmp_path / "nope.pt")


def test_truncated_pickle(tmp_path, reference):
    path = tmp_path / "waveglow.pt"
    save_pickle(path, {"model": imitation(3, reference)})
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        load_waveglow_checkpoint(path)


def test_tensors_that_do_not_fit_the_config(tmp_path, reference):
    path = tmp_path / "gen3.pt"
    torch.save(imitation(3, reference).state_dict(), path)
    loaded = load_waveglow_checkpoint(path)
    loaded.config = replace(loaded.config, n_channels=16)
    shape = r"\(\d+(, \d+)*,?\)"
    with pytest.raises(CheckpointError, match=rf"does not fit .*: \S+ \(expected shape {shape}, file has {shape}\)"):
        build_waveglow(loaded)


def test_safetensors_without_project_metadata(tmp_path):
    path = tmp_path / "bare.safetensors"
    save_file({"x": torch.zeros(2)}, str(path))
    with pytest.raises(CheckpointError, match="without tts-pipeline metadata"):
        load_waveglow_checkpoint(path)


def test_a_checkpoint_path_that_is_not_a_path():
    with pytest.raises(CheckpointError, match="the checkpoint must be a path .str or pathlib.Path., not NoneType"):
        load_waveglow_checkpoint(None)  # type: ignore[arg-type]


# Damaged and crafted files (a fuzz audit of the loaders): each fails with a one-line CheckpointError, before
# the model takes any memory.


def save_own(path: Path, state: dict[str, torch.Tensor], model_type: str = "waveglow", **config_changes) -> Path:
    """``state`` in the project's safetensors format, with the reference sizes changed by ``config_changes``."""
    from tts_pipeline.weights import save_model_file

    save_model_file(path, model_type, EXPECTED_CONFIG.to_dict() | config_changes, state)
    return path


def assert_refused(path: Path, match: str) -> str:
    with pytest.raises(CheckpointError, match=match) as error:
        load_waveglow_checkpoint(path)
    message = str(error.value)
    assert "\n" not in message and "\x1b" not in message
    return message


@pytest.mark.parametrize("dtype", [torch.int64, torch.bool, torch.complex64])
def test_weights_that_are_not_floats_are_refused_in_every_layout(tmp_path, reference, dtype):
    key = "WN.0.in_layers.0.weight_v"
    state = dict(reference)
    state[key] = (100 * state[key]).to(dtype)
    assert_refused(save_own(tmp_path / "own.safetensors", state), f"weight '{key}' holds {str(dtype)[6:]} values")
    torch.save(state, tmp_path / "state.pt")
    assert_refused(tmp_path / "state.pt", f"weight '{key}' holds {str(dtype)[6:]} values")
    model = imitation(3, reference)
    model.upsample.weight = nn.Parameter(model.upsample.weight.detach().to(dtype), requires_grad=False)
    save_pickle(tmp_path / "pickle.pt", {"model": model})
    assert_refused(tmp_path / "pickle.pt", f"weight 'upsample.weight' holds {str(dtype)[6:]} values")


@pytest.mark.parametrize(
    "field, value, match",
    [
        ("n_channels", 10**9, "n_channels must be at most 4096"),
        ("n_layers", 20000, "n_layers must be at most 16"),
        ("n_flows", 10**6, "n_flows must be at most 64"),
        ("sample_rate", 10**12, "sample_rate must lie between 4000 and 192000 Hz"),
        ("sample_rate", 1, "sample_rate must lie between 4000 and 192000 Hz"),
    ],
)
def test_sizes_far_beyond_any_model_are_refused(tmp_path, reference, field, value, match):
    with pytest.raises(ConfigError, match=match):
        WaveGlowConfig(**{field: value})
    assert_refused(save_own(tmp_path / "huge.safetensors", reference, **{field: value}), match)


def test_a_config_that_does_not_fit_the_tensors_is_refused_before_building(tmp_path, reference, monkeypatch):
    def never(config):
        raise AssertionError(f"a WaveGlow of {config} was built before its tensors were checked")

    monkeypatch.setattr("tts_pipeline_waveglow.checkpoint.WaveGlow", never)
    path = save_own(tmp_path / "wide.safetensors", reference, n_channels=4096)
    assert_refused(path, r"does not fit a WaveGlow with its config: WN.0.start.bias \(expected shape \(4096,\)")
    loaded = load_waveglow_checkpoint(save_own(tmp_path / "fits.safetensors", reference))
    loaded.config = replace(loaded.config, n_layers=16)
    with pytest.raises(CheckpointError, match="lacks 'WN.0.in_layers.3.bias'"):
        build_waveglow(loaded)


def test_state_shapes_are_the_models():
    from tts_pipeline_waveglow.model import WaveGlow, state_shapes

    for config in (EXPECTED_CONFIG, replace(EXPECTED_CONFIG, n_flows=5, n_early_every=3, kernel_size=5)):
        shapes = {key: tuple(tensor.shape) for key, tensor in WaveGlow(config).state_dict().items()}
        assert list(state_shapes(config).items()) == list(shapes.items())


@pytest.mark.parametrize(
    "key, change, match",
    [
        (
            "upsample.weight",
            lambda t: t[:, :, 0],
            r"weight 'upsample.weight' has shape \(80, 80\), but a WaveGlow conv weight has 3",
        ),
        ("convinv.1.conv.weight", lambda t: t[0, 0, 0], r"weight 'convinv.1.conv.weight' has shape \(\), but"),
        (
            "WN.2.end.bias",
            lambda t: t[:, None],
            r"weight 'WN.2.end.bias' has shape \(6, 1\), but a WaveGlow conv bias has 1 dim",
        ),
        ("WN.0.start.weight_g", lambda t: t[:2], r"'WN.0.start.weight_g' has shape \(2, 1, 1\), but its weight_v"),
    ],
)
def test_tensors_of_the_wrong_rank_are_named(tmp_path, reference, key, change, match):
    state = dict(reference)
    state[key] = change(state[key]).clone()
    torch.save(state, tmp_path / "bad.pt")
    assert_refused(tmp_path / "bad.pt", match)


def test_networks_without_layers_are_refused(tmp_path, reference):
    state = {key: value for key, value in reference.items() if "in_layers" not in key and "res_skip" not in key}
    torch.save(state, tmp_path / "no_layers.pt")
    assert_refused(tmp_path / "no_layers.pt", "first WN network has no layers")


def test_stacked_convs_of_different_sizes_are_refused(tmp_path, reference):
    state = generation_state(reference, 2)
    state["WN.1.cond_layers.2.weight_v"] = state["WN.1.cond_layers.2.weight_v"][:, :-1].clone()
    torch.save(state, tmp_path / "gen2.pt")
    assert_refused(tmp_path / "gen2.pt", "convs 'WN.1.cond_layers.0.' to 'WN.1.cond_layers.2.' have weights of diff")


def test_module_numbers_too_long_for_int_are_refused(tmp_path, reference):
    state = dict(reference) | {"convinv." + "9" * 5000 + ".conv.weight": torch.zeros(8, 8, 1)}
    torch.save(state, tmp_path / "numbers.pt")
    assert len(assert_refused(tmp_path / "numbers.pt", "not numbered 0..n-1")) < 400


@pytest.mark.parametrize("matrix", ["zeros", "rank-deficient"])
def test_a_singular_invertible_conv_is_refused(tmp_path, reference, matrix):
    state = dict(reference)
    weight = state["convinv.2.conv.weight"].clone()
    if matrix == "zeros":
        weight.zero_()
    else:
        weight[1] = weight[0]
    state["convinv.2.conv.weight"] = weight
    torch.save(state, tmp_path / "singular.pt")
    assert_refused(tmp_path / "singular.pt", "the convinv weight of flow 2 is singular")
    assert_refused(save_own(tmp_path / "singular.safetensors", state), "the convinv weight of flow 2 is singular")


def test_messages_show_deeply_nested_keys_safely(tmp_path):
    from tts_pipeline_waveglow.checkpoint import _from_object

    key: tuple = ()
    for _ in range(5000):  # repr() of this raises RecursionError
        key = (key,)
    with pytest.raises(CheckpointError, match=r"holds <a tuple nested too deeply to show> \(int\)"):
        _from_object({key: 1}, tmp_path / "deep.pt")


def test_strings_from_the_file_are_escaped_in_messages(tmp_path, reference):
    path = save_own(tmp_path / "escape.safetensors", reference, model_type="\x1b[2J\x1b[31mok\x07")
    assert_refused(path, r"holds a '\\x1b\[2J\\x1b\[31mok\\x07' model, not WaveGlow")
    message = assert_refused(
        save_own(tmp_path / "case.safetensors", reference, model_type="WaveGlow"),
        "gives its model type as 'WaveGlow', not 'waveglow'",
    )
    assert "not WaveGlow" not in message
    torch.save({"\x1b]0;pwned\x07" + key: value for key, value in reference.items()}, tmp_path / "keys.pt")
    message = assert_refused(tmp_path / "keys.pt", r"holds a state dict whose keys are not WaveGlow's \(first: '\\x1b")
    assert "bare" not in message


def test_a_model_wrapped_twice_loads(tmp_path, reference, mel, reference_audio):
    torch.save(prefixed(reference, "module.module."), tmp_path / "twice.pt")
    loaded, audio = vocode(tmp_path / "twice.pt", mel)
    assert loaded.layout == "state dict, generation 3, 'module.' prefix"
    assert_close(audio, reference_audio)
