"""Reading Tacotron2 checkpoints in every known layout, inferring the config from tensor shapes, and
writing the project's own format. Never runs code from a file (see :mod:`tts_pipeline.safeload`).

Layouts (``LoadedTacotron2.layout``):
    "nvidia-checkpoint"  ``{'state_dict', 'optimizer', 'learning_rate', 'iteration'}`` (NVIDIA train.py)
    "nvidia-state-dict"  ``{'state_dict', ...}`` without an optimizer (the published tacotron2_statedict.pt)
    "state-dict"         a bare state dict
    "safetensors"        the project's own file (model type "tacotron2" plus its JSON config)
A "+module-prefix" suffix says the keys carried DataParallel's ``module.`` prefix, which is removed.
"""

from __future__ import annotations

import re
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import torch

from tts_pipeline.errors import AudioIOError, CheckpointError, ConfigError, WrongModelError, shown
from tts_pipeline.fileio import check_readable
from tts_pipeline.safeload import safe_torch_load
from tts_pipeline.weights import check_state_dict, is_safetensors, load_model_file, save_model_file

from .config import Tacotron2Config
from .model import Tacotron2

MODEL_TYPE = "tacotron2"
WAVEGLOW_KEY_PREFIXES = ("WN.", "upsample.", "convinv.")
PICKLE_SCAN_BYTES = 4 << 20  # class names of a legacy-format pickle sit before its tensor data


@dataclass
class LoadedTacotron2:
    """A checkpoint's contents mapped to this project's layout."""

    config: Tacotron2Config
    state_dict: dict[str, torch.Tensor]
    layout: str
    iteration: int | None = None
    learning_rate: float | None = None
    optimizer_state: dict[str, Any] | None = None
    path: str = ""


def load_tacotron2_checkpoint(path: str | Path) -> LoadedTacotron2:
    """Read a Tacotron2 checkpoint of any known layout (see the module docstring).

    Raises:
        CheckpointError: missing, unreadable, unsafe or corrupt file; another model's checkpoint (WaveGlow
            is recognised and named); keys or shapes that are not a Tacotron2's.
    """
    try:
        p = check_readable(path, "checkpoint")
    except AudioIOError as exc:
        raise CheckpointError(str(exc)) from None
    if is_safetensors(p):
        return _load_safetensors(p)
    try:
        obj = safe_torch_load(p)
    except CheckpointError:
        if _pickle_mentions_waveglow(p):
            raise _waveglow_error(p) from None
        raise
    except (IndexError, TypeError, UnicodeDecodeError, struct.error, MemoryError) as exc:
        # A malformed pickle can fail inside the unpickler in ways safe_torch_load does not translate.
        raise CheckpointError(
            f"cannot read checkpoint {p}: not a PyTorch checkpoint or corrupt ({type(exc).__name__}); "
            "download or copy it again"
        ) from None

    if not isinstance(obj, dict):
        raise CheckpointError(
            f"{p} holds a {type(obj).__name__}, not a Tacotron2 state dict or training checkpoint; "
            "pass NVIDIA's tacotron2_statedict.pt, a training checkpoint, or a converted .safetensors file"
        )
    extras: dict[str, Any] = {}
    if isinstance(obj.get("state_dict"), dict):
        state = obj["state_dict"]
        layout = "nvidia-checkpoint" if obj.get("optimizer") is not None else "nvidia-state-dict"
        extras = obj
    elif isinstance(obj.get("model"), dict):
        # WaveGlow's training script uses 'model'; Tacotron2's never does.
        state, layout = obj["model"], "model-dict"
    else:
        state, layout = obj, "state-dict"

    state, had_prefix = _strip_module_prefix(state)
    if had_prefix:
        layout += "+module-prefix"
    if any(isinstance(k, str) and k.startswith(WAVEGLOW_KEY_PREFIXES) for k in state):
        raise _waveglow_error(p)
    if layout == "model-dict":
        raise CheckpointError(
            f"{p} stores its weights under 'model', not 'state_dict', and they are not a Tacotron2's; "
            "pass a Tacotron2 checkpoint"
        )
    bad = [k for k, v in state.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(
            f"{p} is not a Tacotron2 state dict: entry {shown(bad[0])} is not a named tensor; "
            "pass a Tacotron2 checkpoint"
        )
    check_state_dict(state, p)
    return LoadedTacotron2(
        config=infer_config(state, p),
        state_dict=state,
        layout=layout,
        iteration=_as_int(extras.get("iteration")),
        learning_rate=_as_float(extras.get("learning_rate")),
        optimizer_state=extras.get("optimizer") if isinstance(extras.get("optimizer"), dict) else None,
        path=str(p),
    )


def infer_config(state: dict[str, torch.Tensor], path: str | Path = "checkpoint") -> Tacotron2Config:
    """Sizes from tensor shapes, n_frames_per_step included (mel projection outputs / postnet mel channels);
    decoding settings (gate_threshold, max_decoder_steps, dropout) default.

    Raises:
        CheckpointError: a key is missing, the sizes are invalid, or the prenet reads a whole step of
            r > 1 frames (NVIDIA's early reduction-factor layout; this decoder feeds it the last frame only).
    """

    def shape(key: str, rank: int) -> tuple[int, ...]:
        if key not in state:
            raise CheckpointError(
                f"{path} is not a Tacotron2 checkpoint: it has no {key!r} "
                f"(first keys: {', '.join(shown(k) for k in list(state)[:3]) or 'none'}); pass a Tacotron2 checkpoint"
            )
        found = tuple(state[key].shape)
        if len(found) != rank or 0 in found:
            raise CheckpointError(
                f"{path}: weight {shown(key)} has shape {found}, but a Tacotron2's has {rank} dimensions, none of "
                "size 0; the file is damaged or not a Tacotron2 checkpoint"
            )
        return found

    def count(prefix: str) -> int:
        pattern = re.compile(re.escape(prefix) + r"(\d+)\.0\.conv\.weight$")
        return len({m.group(1) for k in state if (m := pattern.match(k))})

    n_symbols, symbols_embedding_dim = shape("embedding.weight", 2)
    encoder_embedding_dim, _, encoder_kernel_size = shape("encoder.convolutions.0.0.conv.weight", 3)
    prenet_dim, prenet_in = shape("decoder.prenet.layers.0.linear_layer.weight", 2)
    projection_out, _ = shape("decoder.linear_projection.linear_layer.weight", 2)
    attention_dim, attention_rnn_dim = shape("decoder.attention_layer.query_layer.linear_layer.weight", 2)
    n_filters, _, location_kernel = shape("decoder.attention_layer.location_layer.location_conv.conv.weight", 3)
    _, decoder_rnn_dim = shape("decoder.decoder_rnn.weight_hh", 2)
    postnet_embedding_dim, n_mel_channels, postnet_kernel_size = shape("postnet.convolutions.0.0.conv.weight", 3)
    n_frames_per_step = max(1, projection_out // n_mel_channels)
    if n_frames_per_step > 1 and prenet_in == projection_out:
        raise CheckpointError(
            f"{path} is a Tacotron2 with n_frames_per_step = {n_frames_per_step} whose prenet reads all frames "
            "of a step (NVIDIA's early layout), but this decoder feeds it only the last frame; use an "
            "n_frames_per_step = 1 checkpoint or train one with tts-pipeline"
        )
    try:
        return Tacotron2Config(
            n_symbols=n_symbols,
            symbols_embedding_dim=symbols_embedding_dim,
            encoder_n_convolutions=count("encoder.convolutions."),
            encoder_kernel_size=encoder_kernel_size,
            encoder_embedding_dim=encoder_embedding_dim,
            n_mel_channels=n_mel_channels,
            n_frames_per_step=n_frames_per_step,
            attention_rnn_dim=attention_rnn_dim,
            attention_dim=attention_dim,
            attention_location_n_filters=n_filters,
            attention_location_kernel_size=location_kernel,
            decoder_rnn_dim=decoder_rnn_dim,
            prenet_dim=prenet_dim,
            postnet_embedding_dim=postnet_embedding_dim,
            postnet_kernel_size=postnet_kernel_size,
            postnet_n_convolutions=count("postnet.convolutions."),
        )
    except ConfigError as exc:
        raise CheckpointError(f"{path}: its tensor shapes give an invalid Tacotron2 config ({exc})") from None


def build_tacotron2(loaded: LoadedTacotron2) -> Tacotron2:
    """A :class:`Tacotron2` in eval mode with the loaded weights (strict: every key and shape must match)."""
    # Checked before the model takes memory: a config from a file may describe a huge one.
    expected = state_shapes(loaded.config)
    state = dict(loaded.state_dict)
    # Checkpoints from PyTorch < 0.4.1 lack the batch-norm step counters; they do not affect inference.
    for key in expected:
        if key.endswith("num_batches_tracked") and key not in state:
            state[key] = torch.zeros((), dtype=torch.long)
    problems = _mismatches(expected, state)
    if problems:
        raise CheckpointError(
            f"checkpoint {loaded.path or '(in memory)'} does not fit a Tacotron2 of its config: "
            f"{'; '.join(problems)}; check that it is a complete Tacotron2 checkpoint"
        )
    model = Tacotron2(loaded.config)
    model.load_state_dict(state, strict=True)
    return model.eval()


def state_shapes(config: Tacotron2Config) -> dict[str, tuple[int, ...]]:
    """The shape of every tensor of ``Tacotron2(config).state_dict()``, in its order, without building the
    model (building one on the meta device instead costs seconds: it imports torch's compiler)."""
    c = config
    memory_dim = c.encoder_embedding_dim
    shapes: dict[str, tuple[int, ...]] = {"embedding.weight": (c.n_symbols, c.symbols_embedding_dim)}

    def linear(prefix: str, n_out: int, n_in: int, bias: bool = False) -> None:
        shapes[f"{prefix}.linear_layer.weight"] = (n_out, n_in)
        if bias:
            shapes[f"{prefix}.linear_layer.bias"] = (n_out,)

    def conv_bn(prefix: str, n_out: int, n_in: int, kernel_size: int) -> None:
        shapes[f"{prefix}.0.conv.weight"] = (n_out, n_in, kernel_size)
        for name in ("0.conv.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var"):
            shapes[f"{prefix}.{name}"] = (n_out,)
        shapes[f"{prefix}.1.num_batches_tracked"] = ()

    def lstm(prefix: str, n_in: int, hidden: int, suffix: str = "") -> None:
        shapes[f"{prefix}.weight_ih{suffix}"] = (4 * hidden, n_in)
        shapes[f"{prefix}.weight_hh{suffix}"] = (4 * hidden, hidden)
        shapes[f"{prefix}.bias_ih{suffix}"] = shapes[f"{prefix}.bias_hh{suffix}"] = (4 * hidden,)

    for i in range(c.encoder_n_convolutions):
        n_in = c.symbols_embedding_dim if i == 0 else memory_dim
        conv_bn(f"encoder.convolutions.{i}", memory_dim, n_in, c.encoder_kernel_size)
    for suffix in ("_l0", "_l0_reverse"):  # bidirectional: half the memory size each way
        lstm("encoder.lstm", memory_dim, memory_dim // 2, suffix)
    linear("decoder.prenet.layers.0", c.prenet_dim, c.n_mel_channels)
    linear("decoder.prenet.layers.1", c.prenet_dim, c.prenet_dim)
    lstm("decoder.attention_rnn", c.prenet_dim + memory_dim, c.attention_rnn_dim)
    attention = "decoder.attention_layer"
    linear(f"{attention}.query_layer", c.attention_dim, c.attention_rnn_dim)
    linear(f"{attention}.memory_layer", c.attention_dim, memory_dim)
    linear(f"{attention}.v", 1, c.attention_dim)
    shapes[f"{attention}.location_layer.location_conv.conv.weight"] = (
        c.attention_location_n_filters,
        2,
        c.attention_location_kernel_size,
    )
    linear(f"{attention}.location_layer.location_dense", c.attention_dim, c.attention_location_n_filters)
    lstm("decoder.decoder_rnn", c.attention_rnn_dim + memory_dim, c.decoder_rnn_dim)
    linear("decoder.linear_projection", c.n_mel_channels * c.n_frames_per_step, c.decoder_rnn_dim + memory_dim, True)
    linear("decoder.gate_layer", 1, c.decoder_rnn_dim + memory_dim, True)
    n = c.postnet_n_convolutions
    sizes = [c.n_mel_channels] + [c.postnet_embedding_dim] * (n - 1) + [c.n_mel_channels]
    for i in range(n):
        conv_bn(f"postnet.convolutions.{i}", sizes[i + 1], sizes[i], c.postnet_kernel_size)
    return shapes


def save_tacotron2(path: str | Path, model: Tacotron2) -> None:
    """Write ``model`` in the project's own format (safetensors + JSON config, model type "tacotron2")."""
    save_model_file(path, MODEL_TYPE, model.config.to_dict(), model.state_dict())


def _load_safetensors(p: Path) -> LoadedTacotron2:
    model_type, config, state = load_model_file(p)
    if model_type != MODEL_TYPE:
        if model_type.lower() == "waveglow":
            raise _waveglow_error(p)
        if model_type.lower() == MODEL_TYPE:
            raise CheckpointError(
                f"{p} gives its model type as {shown(model_type)}, not {MODEL_TYPE!r}: tts-pipeline did not write "
                "it; convert the original checkpoint again"
            )
        raise CheckpointError(
            f"{p} is a {shown(model_type)} model file, not tacotron2; pass it to the {shown(model_type)} stage instead"
        )
    check_state_dict(state, p)
    try:
        cfg = Tacotron2Config.from_dict(config)
    except ConfigError as exc:
        raise CheckpointError(f"{p}: the config in its metadata is invalid ({exc})") from None
    return LoadedTacotron2(config=cfg, state_dict=state, layout="safetensors", path=str(p))


def _strip_module_prefix(state: dict[Any, Any]) -> tuple[dict[Any, Any], bool]:
    keys = list(state)
    if keys and all(isinstance(k, str) and k.startswith("module.") for k in keys):
        return {k[len("module.") :]: v for k, v in state.items()}, True
    return state, False


def _pickle_mentions_waveglow(p: Path) -> bool:
    """Look for WaveGlow's class name in the raw pickle bytes (read only, nothing is unpickled)."""
    try:
        if zipfile.is_zipfile(p):
            with zipfile.ZipFile(p) as archive:
                names = [n for n in archive.namelist() if n.endswith("data.pkl")]
                return any(_head_mentions_waveglow(archive.open(n)) for n in names)
        with open(p, "rb") as fh:
            return _head_mentions_waveglow(fh)
    except Exception:
        # a look into a file that has already failed to load: whatever breaks (a bad zip entry name, an unknown
        # compression, a truncated stream) means it does not say WaveGlow
        return False


def _head_mentions_waveglow(fh: BinaryIO) -> bool:
    with fh:
        return b"WaveGlow" in fh.read(PICKLE_SCAN_BYTES)


def _waveglow_error(p: Path) -> CheckpointError:
    return WrongModelError(
        f"{p} looks like a WaveGlow checkpoint, not Tacotron2; give it to the vocoder and pass a "
        "Tacotron2 checkpoint (e.g. tacotron2_statedict.pt) to the acoustic model",
        model="waveglow",
    )


def _mismatches(expected: dict[str, tuple[int, ...]], state: dict[str, torch.Tensor]) -> list[str]:
    problems = []
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [k for k in expected if k in state and tuple(state[k].shape) != expected[k]]
    for label, keys in (("missing", missing), ("unexpected", unexpected)):
        if keys:
            more = f" and {len(keys) - 2} more" if len(keys) > 2 else ""
            problems.append(f"{label} {', '.join(shown(k) for k in keys[:2])}{more}")
    for k in wrong[:2]:
        problems.append(f"{k} has shape {tuple(state[k].shape)}, the model needs {expected[k]}")
    return problems


def _as_int(value: Any) -> int | None:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _as_float(value: Any) -> float | None:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
