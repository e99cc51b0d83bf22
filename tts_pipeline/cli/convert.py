"""``tts-pipeline convert``: any supported checkpoint layout -> the project's safetensors format."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import CheckpointError, PluginError, WrongModelError
from ..fileio import check_not_input, check_readable


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
    check_not_input(output, [checkpoint])
    registry = get_registry()
    stages = {**registry.acoustic_models, **registry.vocoders}
    if model is not None:
        if model not in stages:
            raise PluginError(f"unknown model {model!r}; installed: {', '.join(sorted(stages))}")
        stages = {model: stages[model]}
    problems: dict[str, str] = {}
    unable: dict[str, str] = {}  # stages that convert no checkpoints at all (PluginError)
    belongs: dict[str, str] = {}  # stage -> the model a stage says the file is (WrongModelError)
    for name, cls in stages.items():
        try:
            layout = cls.convert(checkpoint, output)
        except WrongModelError as exc:
            problems[name], belongs[name] = str(exc), exc.model
            continue
        except CheckpointError as exc:
            problems[name] = str(exc)
            continue
        except PluginError as exc:
            unable[name] = str(exc)
            continue
        click.echo(f"{output}: {name} checkpoint converted from {layout}", err=True)
        return
    # "this is a WaveGlow" says nothing new when the WaveGlow stage tried it and said what is wrong with it
    problems = {name: reason for name, reason in problems.items() if belongs.get(name) not in problems}
    raise CheckpointError(f"cannot convert {checkpoint}: {_summary(problems or unable)}")


def _summary(problems: dict[str, str]) -> str:
    """Each model's reason, prefixed with its name; once, unprefixed, when all give the same one (a file
    no model can read)."""
    reasons = set(problems.values())
    if len(reasons) == 1:
        return reasons.pop()
    return " | ".join(f"{name}: {reason}" for name, reason in problems.items())
