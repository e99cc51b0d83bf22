"""``tts-pipeline train``: train or fine-tune a registered model (also one rank of a torchrun job)."""

from __future__ import annotations

import dataclasses
import logging
import signal
import threading
from pathlib import Path

import click

from ..errors import ConfigError

log = logging.getLogger("tts_pipeline")


@click.command()
@click.argument("model")
@click.option(
    "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), help="TOML: [train], [model]."
)
@click.option("--filelist", help="Training list ('path|text' lines, paths relative to the list).")
@click.option("--val-filelist", help="Validation list (never trained on).")
@click.option("--output-dir", help="Where checkpoints and logs go.")
@click.option("--resume", "resume_dir", type=click.Path(file_okay=False, path_type=Path), help="Continue a run.")
@click.option("--init-from", type=click.Path(dir_okay=False, path_type=Path), help="Warm start from weights.")
@click.option("--preset", help="Model size preset (e.g. small, published).")
@click.option("--steps", type=int)
@click.option("--max-minutes", type=float, help="Stop with a checkpoint after this much wall time.")
@click.option("--batch-size", type=int, help="Per process.")
@click.option("--learning-rate", type=float)
@click.option("--warmup-steps", type=int, help="Linear learning-rate warm-up (for --init-from: Adam restarts).")
@click.option("--compile/--no-compile", "compile", default=None, help="torch.compile the model (GPU).")
@click.option("--grad-accum", type=int)
@click.option("--precision", type=click.Choice(["fp32", "fp16", "bf16"]))
@click.option("--checkpoint-every", type=int)
@click.option("--val-every", type=int)
@click.option("--num-workers", type=int)
@click.option("--device")
@click.option("--seed", type=int)
def train(model: str, config_path, resume_dir, init_from, preset, **flags) -> None:
    """Train MODEL (waveglow, tacotron2, ...) on a file list; resume with --resume OUTPUT_DIR.

    Multi-GPU / multi-node: torchrun --nproc_per_node N -m tts_pipeline train MODEL ...
    """
    from ..config import parse_options
    from ..plugins import get_registry
    from ..training.checkpoints import load_latest
    from ..training.config import TrainConfig, make_train_config, read_train_file
    from ..training.loop import Trainer

    # A kill ends training at once, as before: checkpoints are written atomically, so it costs only the steps
    # since the last one, and DataLoader workers killed with it would otherwise turn it into a traceback.
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    task_cls = get_registry().trainer(model)
    train_values, model_values = read_train_file(config_path) if config_path else ({}, {})
    given_dir = flags.get("output_dir")
    if resume_dir is not None and given_dir is not None and Path(given_dir).resolve() != resume_dir.resolve():
        raise ConfigError("--resume DIR continues the run in DIR: leave out --output-dir")
    latest = load_latest(resume_dir) if resume_dir is not None else None  # (path, state), read once
    if latest is not None:
        state = latest[1]
        if state.get("model_name") != model:
            raise ConfigError(f"{resume_dir} holds a {state.get('model_name')} run, not {model}")
        saved = {k: v for k, v in state["train_config"].items() if k != "max_minutes"}  # a limit is per invocation
        saved = _known(saved, TrainConfig, "train", resume_dir)
        train_values = {**saved, **train_values, "output_dir": str(resume_dir)}
        model_values = {**_known(state["task_options"], task_cls.Options, "model", resume_dir), **model_values}
    if init_from is not None and resume_dir is not None:
        raise ConfigError("--init-from starts a new run; it cannot be combined with --resume")
    train_values.update({k: v for k, v in flags.items() if v is not None})
    for key in ("filelist", "val_filelist", "output_dir"):  # absolute, so a resume from elsewhere finds them
        if isinstance(train_values.get(key), str) and train_values[key]:
            train_values[key] = str(Path(train_values[key]).expanduser().resolve())
    if preset is not None:
        model_values["preset"] = preset
    config = make_train_config(train_values)
    task = task_cls(parse_options(task_cls.Options, model_values, f"model ({model})"))
    trainer = Trainer(task, config, resume=latest is not None, init_from=init_from, resume_from=latest)
    start = trainer.step
    try:
        step = trainer.run()
    finally:
        trainer.close()
    if trainer.dist.is_main and step == start:
        click.echo(
            f"{config.output_dir}: already at step {step} of {config.steps}: nothing to train (raise --steps)", err=True
        )
    elif trainer.dist.is_main:
        click.echo(f"{config.output_dir}: trained to step {step}", err=True)


def _known(saved: dict, options: type, section: str, run: Path) -> dict:
    """The settings of ``saved`` (a checkpoint's) that this version's ``options`` dataclass has; the others,
    written by another version, are dropped with a warning rather than refused."""
    names = {f.name for f in dataclasses.fields(options)}
    dropped = sorted(set(saved) - names)
    if dropped:
        log.warning(
            "%s was written by another version: ignoring its [%s] settings %s", run, section, ", ".join(dropped)
        )
    return {k: v for k, v in saved.items() if k in names}
