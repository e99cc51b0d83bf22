"""The ``tts-pipeline`` command line. Errors a user can cause print one line and exit with status 2."""

from __future__ import annotations

import logging
import signal
import sys
import threading

import click

from ..errors import TTSError
from .convert import convert
from .info import formats, plugins, voices
from .mel import mel
from .say import say
from .train import train
from .vocode import vocode


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="tts-pipeline")
def cli() -> None:
    """Text -> mel -> audio with pluggable acoustic models and vocoders (Tacotron2, WaveGlow)."""


BUILT_IN = {command.name: command for command in (say, vocode, mel, convert, train, plugins, formats, voices)}
for command in BUILT_IN.values():
    cli.add_command(command)


def build_cli() -> click.Group:
    """The top-level group with the commands plugins add through ``register_commands``."""
    from ..plugins import add_plugin_commands

    add_plugin_commands(cli, keep=BUILT_IN)
    return cli


NO_ARGS_HELP = getattr(click.exceptions, "NoArgsIsHelpError", ())  # click >= 8.2


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script."""
    setup_logging()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)  # a kill cleans up like Ctrl-C: no partial outputs left
    try:
        group = build_cli()
        result = group.main(args=argv, prog_name="tts-pipeline", standalone_mode=False)
    except TTSError as exc:
        click.echo(f"error: {one_line(str(exc))}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except NO_ARGS_HELP as exc:  # a bare command: its help, as click prints it
        exc.show()
        sys.exit(exc.exit_code)
    except click.ClickException as exc:  # a bad option or argument: one line, as for every user error
        hint = ""
        if isinstance(exc, click.UsageError) and exc.ctx is not None:
            hint = f" (see {exc.ctx.command_path} --help)"
        click.echo(f"error: {one_line(exc.format_message())}{hint}", err=True)
        sys.exit(exc.exit_code)
    except OSError as exc:  # the system refused a path (name too long, disk full, ...) outside the checks
        where = f" {exc.filename}" if exc.filename else ""
        click.echo(f"error: cannot use{where}: {exc.strerror or exc} (check the path and free space)", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    sys.exit(result if isinstance(result, int) else 0)


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def setup_logging() -> None:
    """Warnings from the library (e.g. a sentence cut at the decoder limit) go to stderr, one line each."""
    logger = logging.getLogger("tts_pipeline")
    if not any(getattr(h, "_tts_pipeline_cli", False) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
        handler._tts_pipeline_cli = True
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def one_line(message: str) -> str:
    """Collapse a message onto one line."""
    return " ".join(message.split())
