"""Loading WaveGlow checkpoints of every layout users hold, and saving the project's own format.

Accepted: NVIDIA's whole-model pickles (``{'model': <glow.WaveGlow>, ...}``, WN generations 1-3, with or
without weight norm, zip or legacy torch format), state dicts of any generation (bare, under 'state_dict' or
'model', 'module.'-prefixed, DeepLearningExamples training files with 'config'), and tts-pipeline safetensors.
Never runs code from a file: pickles go through :func:`tts_pipeline.safeload.safe_torch_load`, and pickled
modules are read only as data (their ``_parameters``, ``_modules`` and int attributes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from tts_pipeline.errors import AudioIOError, CheckpointError, ConfigError, WrongModelError, shown
from tts_pipeline.fileio import check_readable
from tts_pipeline.safeload import PickledModule, inert_function, safe_torch_load
from tts_pipeline.weights import check_state_dict, is_safetensors, load_model_file, save_model_file

from .config import WaveGlowConfig
from .layouts import (
    WEIGHT_NORM_WEIGHT,
    detect_generation,
    has_weight_norm,
    infer_config,
    looks_like_tacotron2,
    split_weight_norm,
    strip_prefixes,
    to_canonical,
)
from .model import WaveGlow, state_shapes

MODEL_TYPE = "waveglow"
# Every class an NVIDIA WaveGlow pickle names besides tensors and containers; nothing else is admitted.
PICKLED_CLASSES = (
    "glow.WaveGlow",
    "glow.WN",
    "glow.Invertible1x1Conv",
    "glow_old.WaveGlow",
    "glow_old.WN",
    "glow_old.Invertible1x1Conv",
    "torch.nn.modules.conv.Conv1d",
    "torch.nn.modules.conv.ConvTranspose1d",
    "torch.nn.modules.container.ModuleList",
    "torch.nn.utils.weight_norm.WeightNorm",
)
# PyTorch <= 1.0 pickled each module's backend as a call to this getter; it returns nothing we need.
LEGACY_FUNCTIONS = ("torch.nn.backends.thnn._get_thnn_function_backend",)
WAVEGLOW_ROOTS = ("glow.WaveGlow", "glow_old.WaveGlow")
MAX_MODULE_DEPTH = 8  # WaveGlow nests 4 deep (WaveGlow > ModuleList > WN > ModuleList > Conv1d)
# A 1x1 conv matrix whose smallest singular value is this small next to its largest has no usable inverse
# (trained ones stay close to orthonormal: all singular values near 1).
SINGULAR = 1e-12
CONVERT_HINT = "pass NVIDIA's WaveGlow .pt file, a WaveGlow state dict, or a tts-pipeline .safetensors file"


@dataclass
class LoadedWaveGlow:
    """A WaveGlow checkpoint read from any layout, as data (no model built yet)."""

    config: WaveGlowConfig
    state_dict: dict[str, torch.Tensor]  # canonical: generation-3 names, weight norm (weight_g/weight_v)
    layout: str  # what the file was, for messages and `tts-pipeline info`
    iteration: int | None = None
    learning_rate: float | None = None
    optimizer_state: dict | None = None  # only when its parameters are the canonical ones (generation 3)
    path: Path | None = None


def load_waveglow_checkpoint(path: str | Path) -> LoadedWaveGlow:
    """Read any supported WaveGlow checkpoint layout (see the module docstring) without running its code.

    The tensors are checked against the config (shapes, and an invertible matrix in every flow), so a loaded
    checkpoint always builds.

    Raises:
        CheckpointError: the file is missing, unreadable, unsafe, damaged, another model's, or of an unknown
            layout, or its tensors do not fit its config.
    """
    try:
        p = check_readable(path, "checkpoint")
    except AudioIOError as exc:
        raise CheckpointError(str(exc)) from None
    if p.stat().st_size and is_safetensors(p):
        loaded = _load_safetensors(p)
    else:
        obj = safe_torch_load(
            p,
            stand_ins=[(inert_function(name), name) for name in LEGACY_FUNCTIONS],
            pickled_classes=PICKLED_CLASSES,
        )
        try:
            loaded = _from_object(obj, p)
        except CheckpointError as exc:
            message = str(exc)
            raise CheckpointError(message if str(p) in message else f"{p}: {message}") from None
    _check_fits(loaded)
    return loaded


def _load_safetensors(p: Path) -> LoadedWaveGlow:
    model_type, config_dict, state = load_model_file(p)
    if model_type.lower() == MODEL_TYPE and model_type != MODEL_TYPE:
        raise CheckpointError(
            f"{p} gives its model type as {shown(model_type)}, not {MODEL_TYPE!r}: tts-pipeline did not write it; "
            "convert the original checkpoint again"
        )
    if model_type != MODEL_TYPE:
        raise CheckpointError(
            f"{p} holds a {shown(model_type)} model, not WaveGlow; pass it where a {shown(model_type)} model goes"
        )
    check_state_dict(state, p)
    try:
        config = WaveGlowConfig.from_dict(config_dict)
    except ConfigError as exc:
        raise CheckpointError(f"{p}: the WaveGlow config in its metadata is invalid: {exc}") from None
    generation = detect_generation(list(state))
    if generation is None:
        raise CheckpointError(f"{p} is marked as WaveGlow but holds no WaveGlow tensors; convert the original again")
    return LoadedWaveGlow(config, to_canonical(state, generation), "tts-pipeline safetensors", path=p)


def _from_object(obj: Any, p: Path) -> LoadedWaveGlow:
    if isinstance(obj, PickledModule):
        return _from_pickled_model(obj, {}, p)
    if not isinstance(obj, dict):
        raise CheckpointError(f"{p} holds a {type(obj).__name__}, not a WaveGlow checkpoint; {CONVERT_HINT}")
    if isinstance(obj.get("model"), PickledModule):
        return _from_pickled_model(obj["model"], obj, p)
    for key in ("state_dict", "model"):
        if _is_state_dict(obj.get(key)):
            return _from_state_dict(obj[key], obj, f"under '{key}'", p)
    if obj and _is_state_dict(obj):
        return _from_state_dict(obj, {}, "bare", p)
    held = ", ".join(f"{shown(key)} ({type(value).__name__})" for key, value in list(obj.items())[:8]) or "nothing"
    raise CheckpointError(
        f"{p} is not a WaveGlow checkpoint layout this project knows: at top level it holds {held}; {CONVERT_HINT}"
    )


def _is_state_dict(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and bool(value)
        and all(isinstance(key, str) and isinstance(tensor, torch.Tensor) for key, tensor in value.items())
    )


def _training_state(obj: dict, generation: int, weight_norm: bool) -> dict[str, Any]:
    iteration, rate, optimizer = obj.get("iteration"), obj.get("learning_rate"), obj.get("optimizer")
    return {
        "iteration": iteration if isinstance(iteration, int) and not isinstance(iteration, bool) else None,
        "learning_rate": float(rate) if isinstance(rate, (int, float)) and not isinstance(rate, bool) else None,
        # optimizer moments are per parameter: they only carry over when the file had the canonical parameters
        "optimizer_state": optimizer if isinstance(optimizer, dict) and generation == 3 and weight_norm else None,
    }


def _from_state_dict(state: dict, obj: dict, where: str, p: Path) -> LoadedWaveGlow:
    check_state_dict(state, p)
    state, prefixes = strip_prefixes(state)
    keys = list(state)
    if looks_like_tacotron2(keys):
        raise WrongModelError(
            f"{p} looks like a Tacotron2 checkpoint, not WaveGlow; pass it as the acoustic model, and a WaveGlow file "
            "as the vocoder",
            model="tacotron2",
        )
    generation = detect_generation(keys)
    if generation is None:
        raise CheckpointError(
            f"{p} holds a state dict{'' if where == 'bare' else ' ' + where} whose keys are not WaveGlow's (first: "
            f"{', '.join(shown(key) for key in keys[:3])}); {CONVERT_HINT}"
        )
    weight_norm = has_weight_norm(keys)
    hints = _dle_config_hints(obj.get("config"))
    kind = "DeepLearningExamples training checkpoint" if hints or "epoch" in obj else "state dict"
    layout = f"{kind}, generation {generation}" + ("" if weight_norm else ", weight norm removed")
    layout += f", {where}" if where != "bare" else ""
    layout += "".join(f", '{prefix}' prefix" for prefix in prefixes)
    canonical = to_canonical(state, generation)
    return LoadedWaveGlow(
        infer_config(canonical, hints), canonical, layout, path=p, **_training_state(obj, generation, weight_norm)
    )


def _dle_config_hints(config: Any) -> dict[str, int]:
    """Sizes from a DeepLearningExamples 'config' (WaveGlow constructor arguments, WN sizes under WN_config)."""
    if not isinstance(config, dict):
        return {}
    wn = config.get("WN_config") if isinstance(config.get("WN_config"), dict) else {}
    top = ("n_mel_channels", "n_flows", "n_group", "n_early_every", "n_early_size")
    hints = {name: config.get(name) for name in top} | {
        name: wn.get(name) for name in ("n_layers", "n_channels", "kernel_size")
    }
    return {name: value for name, value in hints.items() if isinstance(value, int) and not isinstance(value, bool)}


def _from_pickled_model(model: PickledModule, obj: dict, p: Path) -> LoadedWaveGlow:
    name = model.pickled_name
    if name not in WAVEGLOW_ROOTS:
        raise CheckpointError(f"{p} holds a pickled {shown(name)}, not a WaveGlow model; {CONVERT_HINT}")
    state: dict[str, torch.Tensor] = {}
    _collect_tensors(model, "", state, set(), 0)
    check_state_dict(state, p)
    generation = detect_generation(list(state))
    if generation is None:
        raise CheckpointError(f"{p} holds a pickled {shown(name)} without WaveGlow's modules; {CONVERT_HINT}")
    weight_norm = has_weight_norm(list(state))
    canonical = to_canonical(state, generation)
    layout = f"NVIDIA whole-model pickle, generation {generation} ({name.split('.')[0]})"
    layout += "" if weight_norm else ", weight norm removed"
    return LoadedWaveGlow(
        infer_config(canonical, _pickled_hints(model)),
        canonical,
        layout,
        path=p,
        **_training_state(obj, generation, weight_norm),
    )


def _collect_tensors(
    module: PickledModule, prefix: str, out: dict[str, torch.Tensor], seen: set[int], depth: int
) -> None:
    """Flatten a pickled module tree into state-dict entries, reading only its attribute dicts."""
    if id(module) in seen or depth > MAX_MODULE_DEPTH:
        raise CheckpointError(
            f"the pickled model nests or repeats modules at {shown(prefix) if prefix else 'the top'}; "
            "the file is malformed"
        )
    seen.add(id(module))
    attributes = vars(module)
    for group in ("_parameters", "_buffers"):
        for key, tensor in _attribute_dict(attributes, group, prefix).items():
            if tensor is None:
                continue
            if not isinstance(tensor, torch.Tensor):
                raise CheckpointError(
                    f"the pickled model's {shown(prefix + key)} is a {type(tensor).__name__}, not a tensor"
                )
            out[prefix + key] = tensor.detach()
    for key, child in _attribute_dict(attributes, "_modules", prefix).items():
        if child is None:
            continue
        if not isinstance(child, PickledModule):
            raise CheckpointError(
                f"the pickled model's {shown(prefix + key)} is a {type(child).__name__}, not a module"
            )
        _collect_tensors(child, f"{prefix}{key}.", out, seen, depth + 1)


def _attribute_dict(attributes: dict, name: str, prefix: str) -> dict:
    value = attributes.get(name, {})
    if not isinstance(value, dict) or not all(isinstance(key, str) for key in value):
        raise CheckpointError(
            f"the pickled model's {shown(prefix + name)} is a {type(value).__name__}, not a dict by name"
        )
    return value


def _pickled_hints(model: PickledModule) -> dict[str, int]:
    """Sizes NVIDIA's modules keep as attributes: flows and grouping on WaveGlow, WN sizes, upsampler stride."""
    hints = {name: _int_attribute(model, name) for name in ("n_flows", "n_group", "n_early_every", "n_early_size")}
    modules = vars(model).get("_modules", {})
    wn_list = vars(modules["WN"]).get("_modules", {}) if isinstance(modules.get("WN"), PickledModule) else {}
    if isinstance(wn_list.get("0"), PickledModule):
        hints |= {name: _int_attribute(wn_list["0"], name) for name in ("n_layers", "n_channels")}
    if isinstance(modules.get("upsample"), PickledModule):
        hints["hop_length"] = _int_attribute(modules["upsample"], "stride")
    return {name: value for name, value in hints.items() if value is not None}


def _int_attribute(module: PickledModule, name: str) -> int | None:
    value = vars(module).get(name)
    if isinstance(value, tuple) and len(value) == 1:  # conv sizes are 1-tuples
        value = value[0]
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def build_waveglow(loaded: LoadedWaveGlow) -> WaveGlow:
    """A WaveGlow with the loaded weights (strict: every tensor present, with the right shape).

    Raises:
        CheckpointError: the checkpoint's tensors do not fit the model its config describes.
    """
    _check_fits(loaded)  # before the model takes any memory: a config from a file may describe a huge one
    model = WaveGlow(loaded.config)
    model.load_state_dict(loaded.state_dict, strict=True)
    return model


def _check_fits(loaded: LoadedWaveGlow) -> None:
    """CheckpointError unless the loaded tensors have exactly the shapes of a WaveGlow of the loaded config
    and every flow's 1x1 conv can be inverted."""
    expected = state_shapes(loaded.config)
    source = f"checkpoint {loaded.path}" if loaded.path else "checkpoint"
    missing = [key for key in expected if key not in loaded.state_dict]
    unexpected = [key for key in loaded.state_dict if key not in expected]
    if missing or unexpected:
        what = f"lacks {missing[0]!r}" if missing else f"has an unexpected {shown(unexpected[0])}"
        raise CheckpointError(
            f"{source} does not fit a WaveGlow with its config: it {what} "
            f"({len(missing)} missing, {len(unexpected)} unexpected tensors); convert it again from the original"
        )
    for key, shape in expected.items():
        found = loaded.state_dict[key]
        if found.shape != shape:
            raise CheckpointError(
                f"{source} does not fit a WaveGlow with its config: {key} (expected shape {shape}, "
                f"file has {tuple(found.shape)}); the file's config and tensors disagree, convert it again"
            )
    for k in range(loaded.config.n_flows):
        matrix = loaded.state_dict[f"convinv.{k}.conv.weight"].squeeze(-1).double()
        if not torch.isfinite(matrix).all():
            continue  # NaN weights anywhere are reported by synthesis, which finds NaN in the audio
        singular_values = torch.linalg.svdvals(matrix)  # largest first
        if singular_values[-1] <= singular_values[0] * SINGULAR:
            raise CheckpointError(
                f"{source}: the convinv weight of flow {k} is singular (it has no inverse, so the flow cannot "
                "run backwards); the file is damaged: download or convert it again"
            )


def save_waveglow(path: str | Path, model: WaveGlow, extra_metadata: dict[str, str] | None = None) -> None:
    """Write ``model`` in the project's safetensors format, canonical weight-norm form even if it was folded."""
    state: dict[str, torch.Tensor] = {}
    for key, tensor in model.state_dict().items():
        tensor = tensor.detach().float() if tensor.is_floating_point() else tensor.detach()
        if WEIGHT_NORM_WEIGHT.match(key):
            base = re.sub(r"weight$", "", key)
            state[base + "weight_g"], state[base + "weight_v"] = split_weight_norm(tensor)
        else:
            state[key] = tensor
    save_model_file(path, MODEL_TYPE, model.config.to_dict(), state, extra_metadata)
