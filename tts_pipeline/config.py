"""Typed pipeline configuration: TOML/JSON files or dicts, validated with errors that name the bad key.

```toml
voice = "joe-lj-demo"   # the bundled voice fills stages without a checkpoint; "none": no voice

[acoustic]
name = "tacotron2"
checkpoint = "tacotron2_statedict.pt"

[vocoder]
name = "waveglow"
checkpoint = "waveglow_256channels_universal_v5.pt"
sigma = 0.666
denoiser_strength = 0.01

[runtime]
device = "auto"   # cuda when present
dtype = "fp32"    # fp16 / bf16 on a GPU
seed = 0
```
Keys of a stage table other than ``name`` and ``checkpoint`` are that stage's options; they are checked
against the stage's ``Options`` dataclass when the stage is built (see :func:`parse_options`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .audio.stretch import check_speed
from .errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DTYPES = ("fp32", "fp16", "bf16")
MAX_PAUSE = 60.0  # seconds of silence between sentences; more is surely a slip
MAX_SEED = 2**63 - 1  # the largest seed every generator seeded from it accepts (torch's take up to 2**64 - 1)
DEFAULT_VOICE = "joe-lj-demo"  # the voice shipped in tts_pipeline/voices/


@dataclass
class StageConfig:
    """One stage of the pipeline: the registered name, its checkpoint and its raw options."""

    name: str
    checkpoint: Path | None = None
    options: dict[str, Any] = field(default_factory=dict)
    # the config's folder: relative file options are read from there (where, not what: not compared)
    base_dir: Path | None = field(default=None, compare=False)


@dataclass
class RuntimeConfig:
    """Where and how to run: device ("auto", "cpu", "cuda", "cuda:N"), dtype and random seed."""

    device: str = "auto"
    dtype: str = "fp32"
    seed: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.device, str) or not (
            self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:")
        ):
            raise ConfigError(f"runtime.device must be auto, cpu, cuda or cuda:N, not {self.device!r}")
        if self.dtype not in DTYPES:
            raise ConfigError(f"runtime.dtype must be one of {', '.join(DTYPES)}, not {self.dtype!r}")
        if self.seed is not None:
            check_seed(self.seed, "runtime.seed")


def check_seed(seed: int, name: str = "seed") -> int:
    """``seed`` when it is an integer from 0 to MAX_SEED; ConfigError otherwise."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError(f"{name} must be an integer, not {seed!r}")
    if not 0 <= seed <= MAX_SEED:
        raise ConfigError(f"{name} must lie between 0 and 2**63 - 1, not {seed}")
    return seed


@dataclass
class PipelineConfig:
    """A whole pipeline: optional acoustic model, vocoder, runtime settings."""

    vocoder: StageConfig = field(default_factory=lambda: StageConfig(name="waveglow"))
    acoustic: StageConfig | None = None
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    voice: str = DEFAULT_VOICE  # fills stages that have no checkpoint ("none": leave them empty)
    speed: float = 1.0  # speaking rate: the mel is stretched in time before the vocoder (0.5 to 2)

    def __post_init__(self) -> None:
        self.speed = check_speed(self.speed)


def load_config(source: str | Path | Mapping[str, Any] | PipelineConfig | None) -> PipelineConfig:
    """Read a pipeline config from a TOML/JSON file, a dict, or pass a PipelineConfig through.

    Relative checkpoint paths (and :func:`path_option` values) in a file are resolved against its folder.
    """
    if source is None:
        return PipelineConfig()
    if isinstance(source, PipelineConfig):
        return source
    if isinstance(source, Mapping):
        return config_from_mapping(source, base_dir=Path.cwd())
    if not isinstance(source, str | os.PathLike):
        raise ConfigError(
            f"a pipeline config is a TOML/JSON file path, a dict or a PipelineConfig, not {type(source).__name__}"
        )
    path = Path(source).expanduser()
    return config_from_mapping(read_config_file(path), base_dir=path.parent)


def read_config_file(path: Path, what: str = "config") -> dict[str, Any]:
    """Parse a .toml or .json file into a dict (ConfigError on any problem)."""
    if path.is_dir():
        raise ConfigError(f"{what} {path} is a folder: give the .toml/.json file in it")
    if not path.is_file():
        raise ConfigError(f"{what} file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8-sig")  # an editor's byte-order mark is not TOML
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc}") from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        kind = "JSON" if path.suffix.lower() == ".json" else "TOML"
        raise ConfigError(f"{what} {path} is not valid {kind}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{what} {path} must hold a table/object at the top level")
    return data


def config_from_mapping(data: Mapping[str, Any], base_dir: Path) -> PipelineConfig:
    """Validate a config dict: unknown sections or keys are errors naming them."""
    unknown = [key for key in data if key not in {"acoustic", "vocoder", "runtime", "voice", "speed"}]
    if unknown:
        raise ConfigError(
            f"unknown config section {unknown[0]!r}; expected voice, speed, acoustic, vocoder and runtime"
        )
    voice = data.get("voice", DEFAULT_VOICE)
    if not isinstance(voice, str):
        raise ConfigError(f'voice must be a voice name (see `tts-pipeline voices`) or "none", not {voice!r}')
    acoustic_data = data.get("acoustic")
    acoustic = None if acoustic_data is None or acoustic_data == {} else _stage(acoustic_data, "acoustic", base_dir)
    vocoder = _stage(data.get("vocoder", {"name": "waveglow"}), "vocoder", base_dir)
    runtime_data = data.get("runtime", {})
    if not isinstance(runtime_data, Mapping):
        raise ConfigError("config section 'runtime' must be a table")
    runtime = parse_options(RuntimeConfig, runtime_data, "runtime")
    speed = data.get("speed", 1.0)  # checked by PipelineConfig
    return PipelineConfig(vocoder=vocoder, acoustic=acoustic, runtime=runtime, voice=voice, speed=speed)


def _stage(data: Any, section: str, base_dir: Path) -> StageConfig:
    if not isinstance(data, Mapping):
        raise ConfigError(f"config section {section!r} must be a table with at least a 'name'")
    options = dict(data)
    name = options.pop("name", "waveglow" if section == "vocoder" else None)
    if not isinstance(name, str) or not name:
        raise ConfigError(f"config section {section!r} needs a 'name' (e.g. name = \"tacotron2\")")
    checkpoint = options.pop("checkpoint", None)
    if checkpoint is not None:
        if not isinstance(checkpoint, str | Path):
            raise ConfigError(f"{section}.checkpoint must be a path string")
        checkpoint = Path(checkpoint).expanduser()
        if not checkpoint.is_absolute():
            checkpoint = base_dir / checkpoint
    return StageConfig(name=name, checkpoint=checkpoint, options=options, base_dir=base_dir)


def path_option(default: str | None = None, keywords: tuple[str, ...] = ()) -> Any:
    """A stage option naming a file: given relatively in a config file, it is read from the file's folder
    (as ``checkpoint`` is); ``keywords`` are values that name no file (e.g. "bundled")."""
    return field(default=default, metadata={"path": True, "keywords": keywords})


def resolve_path_options(options: Any, base_dir: Path | None) -> Any:
    """``options`` (a stage's Options dataclass) with its relative :func:`path_option` values joined to
    ``base_dir``; unchanged without a ``base_dir`` (options given in code or on the command line)."""
    if base_dir is None:
        return options
    changes = {}
    for f in dataclasses.fields(options):
        value = getattr(options, f.name)
        if not f.metadata.get("path") or not isinstance(value, str | Path) or value in f.metadata["keywords"]:
            continue
        path = Path(value).expanduser()
        if not path.is_absolute():
            changes[f.name] = type(value)(base_dir / path)
    return dataclasses.replace(options, **changes) if changes else options


def dataclass_from_dict(cls: type, data: Any, what: str) -> Any:
    """``cls(**data)`` for a model config dict, with ConfigErrors naming a non-dict or an unknown key."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{what} must be a table/dict, got {type(data).__name__}")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(str(key) for key in data if key not in known)
    if unknown:
        more = f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""
        raise ConfigError(f"{what}: unknown key {unknown[0]!r}{more}; known keys are {', '.join(sorted(known))}")
    return cls(**data)


def parse_options(cls: type, data: Mapping[str, Any], where: str) -> Any:
    """Build dataclass ``cls`` from ``data``: unknown keys and wrongly typed values are ConfigErrors."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in data:
        if key not in fields:
            raise ConfigError(f"unknown option {where}.{key}; known options: {', '.join(fields) or 'none'}")
    hints = typing.get_type_hints(cls)
    values = {}
    for key, value in data.items():
        values[key] = _coerce(value, hints[key], f"{where}.{key}")
    try:
        return cls(**values)
    except TypeError as exc:
        raise ConfigError(f"bad options for {where}: {exc}") from None


def _coerce(value: Any, hint: Any, where: str) -> Any:
    """Check ``value`` against a simple type hint (int, float, str, bool, Literal, Optional, Path, dict, list)."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{where} has a bad value {value!r}")
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{where} must be one of {', '.join(map(str, args))}, not {value!r}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, not {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where} must be an integer, not {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where} must be a number, not {value!r}")
        try:
            return float(value)
        except OverflowError:  # an integer with hundreds of digits
            raise ConfigError(f"{where} is too large: {str(value)[:20]}...") from None
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be a string, not {value!r}")
        return value
    if hint is Path:
        if not isinstance(value, str | Path):
            raise ConfigError(f"{where} must be a path string, not {value!r}")
        return Path(value)
    if hint is dict or origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where} must be a table of settings (e.g. {{ key = 1 }}), not {value!r}")
        return dict(value)
    if hint is list or origin is list:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where} must be a list, not {value!r}")
        return list(value)
    return value
