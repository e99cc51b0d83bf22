"""``tts-pipeline plugins`` and ``tts-pipeline formats``: what is installed."""

from __future__ import annotations

import dataclasses

import click


@click.command()
def plugins() -> None:
    """List installed plugins, the hooks each implements, and what they register."""
    from ..plugins import get_registry, list_plugins, plugin_failures

    for info in list_plugins():
        version = f" {info.version}" if info.version else ""
        click.echo(f"{info.name}{version}: {', '.join(info.hooks) or '(no hooks)'}")
    registry = get_registry()
    failures = plugin_failures()
    if failures:
        click.echo("")
        click.echo("problems:")
        for failure in failures:
            click.echo(f"    {failure.describe()}")
    click.echo("")
    click.echo(f"vocoders: {', '.join(sorted(registry.vocoders)) or '(none)'}")
    click.echo(f"acoustic models: {', '.join(sorted(registry.acoustic_models)) or '(none)'}")
    click.echo(f"mel formats: {', '.join(sorted(registry.mel_formats)) or '(none)'}")
    click.echo(f"mel processors: {', '.join(sorted(registry.mel_processors)) or '(none)'}")
    click.echo(f"audio processors: {', '.join(sorted(registry.audio_processors)) or '(none)'}")


@click.command()
@click.option("--verbose", "-v", is_flag=True, help="Show every parameter of each format.")
def formats(verbose: bool) -> None:
    """List known mel formats and their parameters."""
    from ..plugins import get_registry

    for name, fmt in sorted(get_registry().mel_formats.items()):
        click.echo(f"{name}: {fmt.description}")
        if verbose:
            for field in dataclasses.fields(fmt):
                if field.name not in ("name", "description"):
                    click.echo(f"    {field.name} = {getattr(fmt, field.name)!r}")


@click.command()
def voices() -> None:
    """List the voices shipped with the package: status, models, sizes, checksums, model card."""
    from ..voices import DEFAULT_VOICE, installed_voices

    found = installed_voices()
    if not found:
        click.echo("no voices installed: pass --acoustic-checkpoint and --checkpoint to say")
    for voice in found.values():
        default = " (default)" if voice.name == DEFAULT_VOICE else ""
        problems = voice.mismatches()
        click.echo(f"{voice.name}{default}: {voice.status}; {voice.description}")
        for role, stage in (("acoustic", voice.acoustic), ("vocoder", voice.vocoder)):
            size = f"{stage.file.stat().st_size / 2**20:.1f} MB" if stage.file.is_file() else "missing"
            note = f", {stage.note}" if stage.note else ""
            click.echo(f"    {role}: {stage.name}{note}, {stage.file.name} ({size})")
        click.echo(f"    checksums: {'; '.join(problems) if problems else 'ok'}")
        click.echo(f"    model card: {voice.card}")
