"""``tts-pipeline convert``: any supported checkpoint layout -> the project's safetensors format."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import CheckpointError, PluginError
from ..fileio import check_readable


@click.command()
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path), help="Output .safetensors file.")
@click.option("--model", default=None, help="Model name (e.g. waveglow, tacotron2); default: detect.")
def convert(checkpoint: Path, output: Path, model: str | None) -> None:
    """Convert a checkpoint (NVIDIA pickles, state dicts, ...) to safetensors + JSON config.

    The result loads without pickle and is what `vocode`/`say` load fastest.
    """
    from ..plugins import get_registry

    check_readable(checkpoint, "checkpoint")
    if output.suffix != ".safetensors":
        raise CheckpointError(f"output {output} must end in .safetensors")
    registry = get_registry()
    stages = {**registry.acoustic_models, **registry.vocoders}
    if model is not None:
        if model not in stages:
            raise PluginError(f"unknown model {model!r}; installed: {', '.join(sorted(stages))}")
        stages = {model: stages[model]}
    problems = []
    for name, cls in stages.items():
        try:
            layout = cls.convert(checkpoint, output)
        except (CheckpointError, PluginError) as exc:
            problems.append(f"{name}: {exc}")
            continue
        click.echo(f"{output}: {name} checkpoint converted from {layout}", err=True)
        return
    raise CheckpointError(f"cannot convert {checkpoint}: " + " | ".join(problems))
