"""Options shared by several commands, and turning them into a pipeline config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..audio.stretch import check_speed
from ..config import PipelineConfig, StageConfig, load_config


def runtime_options(func):
    """--config, --voice, --device, --dtype, --seed, --speed."""
    func = click.option(
        "--speed", type=float, default=None, help="Speaking rate: 0.8 slower, 1.25 faster (0.5 to 2; default 1)."
    )(func)
    func = click.option("--seed", type=int, default=None, help="Random seed for reproducible noise.")(func)
    func = click.option(
        "--dtype", type=click.Choice(["fp32", "fp16", "bf16"]), default=None, help="Precision (fp16/bf16 need a GPU)."
    )(func)
    func = click.option("--device", default=None, help="auto (cuda when present), cpu, cuda or cuda:N.")(func)
    func = click.option(
        "--voice", default=None, help="Installed voice for stages without a checkpoint (see `voices`; none: no voice)."
    )(func)
    func = click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Pipeline config file (TOML or JSON); flags override it.",
    )(func)
    return func


def vocoder_options(func):
    """--vocoder, --checkpoint, --sigma, --denoiser-strength, --denoiser-mode."""
    func = click.option(
        "--denoiser-mode", type=click.Choice(["zeros", "normal"]), default=None, help="Bias estimate input."
    )(func)
    func = click.option(
        "--denoiser-strength", type=float, default=None, help="Model-bias removal strength (0 disables; 0.01 usual)."
    )(func)
    func = click.option("--sigma", type=float, default=None, help="Noise scale for WaveGlow (default 0.666).")(func)
    func = click.option(
        "--checkpoint",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Vocoder checkpoint (any supported layout).",
    )(func)
    func = click.option("--vocoder", default=None, help="Vocoder name (see `tts-pipeline plugins`).")(func)
    return func


def build_config(
    config_path: Path | None,
    *,
    voice: str | None = None,
    device: str | None = None,
    dtype: str | None = None,
    seed: int | None = None,
    speed: float | None = None,
    vocoder: str | None = None,
    checkpoint: Path | None = None,
    vocoder_overrides: dict[str, Any] | None = None,
    acoustic: str | None = None,
    default_acoustic: str | None = None,
    acoustic_checkpoint: Path | None = None,
    acoustic_overrides: dict[str, Any] | None = None,
) -> PipelineConfig:
    """Read the config file (if any) and apply command-line overrides on top; ``default_acoustic`` is the
    acoustic model when neither the file nor a flag names one."""
    config = load_config(config_path)
    if vocoder is not None and vocoder != config.vocoder.name:
        config.vocoder = StageConfig(name=vocoder)
    if checkpoint is not None:
        config.vocoder.checkpoint = checkpoint
    config.vocoder.options.update({k: v for k, v in (vocoder_overrides or {}).items() if v is not None})
    if acoustic is None and config.acoustic is None:
        acoustic = default_acoustic
    if acoustic is not None and (config.acoustic is None or acoustic != config.acoustic.name):
        config.acoustic = StageConfig(name=acoustic)
    if acoustic_checkpoint is not None:
        if config.acoustic is None:
            config.acoustic = StageConfig(name="tacotron2")
        config.acoustic.checkpoint = acoustic_checkpoint
    if config.acoustic is not None:
        config.acoustic.options.update(
            {k: _from_cwd(v) for k, v in (acoustic_overrides or {}).items() if v is not None}
        )
    if voice is not None:
        config.voice = voice
    if device is not None:
        config.runtime.device = device
    if dtype is not None:
        config.runtime.dtype = dtype
    if seed is not None:
        config.runtime.seed = seed
    if speed is not None:
        config.speed = check_speed(speed, "--speed")
    config.runtime.__post_init__()
    return config


def _from_cwd(value: Any) -> Any:
    """A flag naming a file in the working folder, made absolute: a config file's relative paths are read
    from the config's folder, a flag's from where the command runs."""
    if isinstance(value, str) and not Path(value).is_absolute() and Path(value).is_file():
        return str(Path(value).resolve())
    return value
