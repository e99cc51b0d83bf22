"""Mel formats described by users: TOML/JSON files and Rayhane-style hparams strings.

Both accept the :class:`MelFormat` field names and the hparams names of Rayhane-mamah's Tacotron-2
(num_mels, hop_size, win_size, preemphasize, magnitude_power, signal_normalization, symmetric_mels,
allow_clipping_in_normalization, use_lws, ...). Hparams start from the ``rayhane`` preset.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..config import parse_options, read_config_file
from ..errors import ConfigError
from .formats import RAYHANE, MelFormat

# Rayhane hparams name -> MelFormat field (None: handled specially)
HPARAMS = {
    "num_mels": "n_mels",
    "n_fft": "n_fft",
    "hop_size": "hop_length",
    "win_size": "win_length",
    "sample_rate": "sample_rate",
    "fmin": "fmin",
    "fmax": "fmax",
    "magnitude_power": "power",
    "min_level_db": "min_level_db",
    "ref_level_db": "ref_level_db",
    "max_abs_value": "max_abs_value",
    "allow_clipping_in_normalization": "clip_normalized",
    "preemphasize": None,
    "preemphasis": None,
    "signal_normalization": None,
    "symmetric_mels": None,
    "use_lws": None,
}


def format_from_mapping(data: Mapping[str, Any], name: str, base: MelFormat | None = None) -> MelFormat:
    """A MelFormat from field names and/or Rayhane hparams names (unknown keys are ConfigErrors)."""
    fields = {f.name for f in dataclasses.fields(MelFormat)}
    values: dict[str, Any] = {}
    rayhane: dict[str, Any] = {}
    for key, value in data.items():
        if key in HPARAMS:
            rayhane[key] = value
        elif key in fields:
            values[key] = value
        else:
            raise ConfigError(
                f"unknown mel format key {key!r}; use MelFormat fields (tts-pipeline formats -v) or Rayhane hparams"
            )
    if rayhane:
        base = base or RAYHANE
        for key, value in rayhane.items():
            if HPARAMS[key] is not None:
                values[HPARAMS[key]] = value
        if "win_size" in rayhane and rayhane["win_size"] is None:
            values["win_length"] = values.get("n_fft", base.n_fft)
        if rayhane.get("preemphasize") is False:
            values["preemphasis"] = 0.0
        elif "preemphasis" in rayhane:
            values["preemphasis"] = rayhane["preemphasis"]
        if rayhane.get("signal_normalization") is False:
            values["normalization"] = "none"
        elif "symmetric_mels" in rayhane:
            values["normalization"] = "symmetric" if rayhane["symmetric_mels"] else "asymmetric"
        if "use_lws" in rayhane:
            values["stft"] = "lws" if rayhane["use_lws"] else "torch"
        values.setdefault("compression", "db")
    start = dataclasses.asdict(base) if base else {}
    start.update(values)
    start["name"] = name
    start["description"] = values.get("description", f"custom format {name!r}")
    if start.get("win_length") is None:
        start["win_length"] = start.get("n_fft", 1024)
    return parse_options(MelFormat, start, f"mel format {name}")


def load_format_file(path: str | Path) -> MelFormat:
    """Read a mel format from a .toml or .json file (named after the file)."""
    p = Path(path)
    return format_from_mapping(read_config_file(p, "mel format"), name=p.stem)


def parse_hparams_string(text: str, name: str = "hparams") -> MelFormat:
    """``"num_mels=80,hop_size=256,fmin=95"`` -> MelFormat (starting from the rayhane preset)."""
    data: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, raw = item.partition("=")
        if not sep:
            raise ConfigError(f"hparams item {item!r} is not key=value")
        data[key.strip()] = _parse_value(raw.strip())
    return format_from_mapping(data, name=name, base=RAYHANE)


def _parse_value(raw: str) -> Any:
    lowered = raw.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "none":
        return None
    for kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            pass
    return raw.strip("'\"")


def resolve_format(spec: str, known: Mapping[str, MelFormat]) -> MelFormat:
    """A format from a registered name, a .toml/.json file, or a key=value hparams string."""
    if spec in known:
        return known[spec]
    if spec.endswith((".toml", ".json")) or Path(spec).expanduser().is_file():
        return load_format_file(Path(spec).expanduser())
    if "=" in spec:
        return parse_hparams_string(spec)
    raise ConfigError(
        f"unknown mel format {spec!r}; known: {', '.join(sorted(known))}, or a .toml/.json file, or key=value hparams"
    )
