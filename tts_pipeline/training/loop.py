"""The training loop shared by every model: data order, optimiser, precision, checkpoints, validation.

Runs as one process or as one rank of a torchrun job (DistributedDataParallel; gloo on CPUs, NCCL on
GPUs). Resuming restores model, optimiser, loss scaler, step, data position and RNG state, so an
interrupted run continues exactly as an uninterrupted one would have.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import time
from pathlib import Path
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader
from tqdm import tqdm

from ..errors import ConfigError, TTSError
from . import checkpoints as ckpt
from .config import TrainConfig
from .data import existing_audio, read_filelist, readable_audio
from .distributed import DistInfo, all_agree, barrier, mean_across, setup, teardown
from .logger import TrainLogger
from .sampler import ResumableSampler, SeededItems
from .task import Batch, TrainTask

log = logging.getLogger("tts_pipeline")


class Trainer:
    """Train ``task``'s model as ``config`` says; :meth:`run` returns the final step."""

    def __init__(
        self,
        task: TrainTask,
        config: TrainConfig,
        resume: bool = False,
        init_from: Path | None = None,
        resume_from: tuple[Path, dict[str, Any]] | None = None,
    ) -> None:
        """``resume_from``: the checkpoint (path, state) to resume, when the caller has already read it
        (:func:`checkpoints.load_latest`); with ``resume`` alone the newest in the output dir is read."""
        if not config.filelist:
            raise ConfigError("no training file list: pass --filelist LIST (lines 'path|text')")
        self.task, self.config = task, config
        self.dist: DistInfo = setup(config.device)
        self.device = self.dist.device
        self.output_dir = Path(config.output_dir)  # created by run() once the inputs are known good
        self.amp_dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(config.precision)
        if config.precision == "fp16" and self.device.type != "cuda":
            raise ConfigError("precision fp16 needs a CUDA GPU; use bf16 or fp32 on the CPU")
        ckpt.check_output_dir(self.output_dir)
        earlier = ckpt.latest_checkpoint(self.output_dir) if self.output_dir.is_dir() else None
        if not resume and earlier is not None:
            raise ConfigError(
                f"output directory {self.output_dir} already holds a run ({earlier.name}): continue it with "
                f"--resume {self.output_dir}, or choose another --output-dir"
            )
        if config.val_filelist and Path(config.val_filelist).resolve() == Path(config.filelist).resolve():
            log.warning("the validation list is the training list: its loss will not show overfitting")
        self.step = 0
        state = self._resume_state(resume_from or ckpt.load_latest(self.output_dir)) if resume else None
        torch.manual_seed(config.seed)
        self.model = (task.build_from_config(state["model_config"]) if state else task.build_model()).to(self.device)
        if init_from is not None and state is None:
            task.warm_start(self.model, init_from)
        self.optimizer = torch.optim.Adam(
            self.model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
        )
        self.scaler = torch.amp.GradScaler("cuda", enabled=config.precision == "fp16")
        if state is not None:
            self._restore(state)
        self.ddp = (
            DistributedDataParallel(self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None)
            if self.dist.enabled
            else self.model
        )
        # what the training steps call: compiled once here (first step traces; a new shape recompiles)
        self.step_model = torch.compile(self.ddp) if config.compile else self.ddp
        self.logger = TrainLogger(self.output_dir, enabled=False)  # run() opens the real one

    # --- state ------------------------------------------------------------------------------

    def _resume_state(self, checkpoint: tuple[Path, dict[str, Any]]) -> dict[str, Any]:
        """The checkpoint's state, once its model config is known to match the task's options."""
        path, state = checkpoint
        log.info("resuming from %s", path)
        changed = _differences(self.task.planned_model_config(), state.get("model_config", {}))
        if changed:
            key, (now, then) = next(iter(changed.items()))
            raise ConfigError(
                f"--resume continues {self.output_dir}'s model as it was built, but the [model] options now give "
                f"{key} = {now!r} where the run has {then!r}: drop the change, or start a new run from its weights "
                "with --init-from"
            )
        return state

    def _restore(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["state_dict"])
        self.optimizer.load_state_dict(state["optimizer"])
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.step = int(state["step"])
        ckpt.set_rng_state(state["rng"])

    def save_checkpoint(self) -> None:
        """Write checkpoint_<step>.pt and model_<step>.safetensors (main process), prune older ones."""
        if self.dist.is_main:
            state = {
                "model_name": self.task.name,
                "model_config": self.task.model_config(self.model),
                "state_dict": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scaler": self.scaler.state_dict() if self.scaler.is_enabled() else None,
                "step": self.step,
                "rng": ckpt.rng_state(),
                "train_config": dataclasses.asdict(self.config),
                "task_options": dataclasses.asdict(self.task.options),
            }
            ckpt.save_training_state(ckpt.checkpoint_path(self.output_dir, self.step), state)
            self.task.save_model(self.model, ckpt.model_path(self.output_dir, self.step))
            ckpt.prune(self.output_dir, self.config.keep_last, self.config.keep_models)
        barrier(self.dist)

    def _make_output_dir(self) -> None:
        """Create the output directory (main process); if that fails, every rank stops with the error."""
        error: ConfigError | None = None
        if self.dist.is_main:
            try:
                ckpt.make_output_dir(self.output_dir)
            except ConfigError as exc:
                error = exc
        if not all_agree(error is None, self.dist):
            raise error or ConfigError(
                f"cannot create output directory {self.output_dir} (the main process says why); "
                "choose a writable --output-dir"
            )

    # --- data -------------------------------------------------------------------------------

    def _loader(self, filelist: str, train: bool) -> DataLoader:
        source = filelist if train else f"the validation list {filelist}"
        utterances = readable_audio(existing_audio(read_filelist(filelist), source), source)
        dataset = self.task.dataset(utterances, train=train)
        cfg = self.config
        if train:
            per_step = cfg.batch_size * self.dist.world_size * cfg.grad_accum
            if len(dataset) < per_step:
                raise ConfigError(
                    f"{filelist} has {len(dataset)} utterances, fewer than one training step takes ({per_step}: "
                    f"batch_size {cfg.batch_size} x {self.dist.world_size} processes x grad_accum {cfg.grad_accum}); "
                    "add utterances or lower --batch-size"
                )
            lengths = self.task.item_lengths(utterances) if cfg.bucket_by_length else None
            sampler = ResumableSampler(
                len(dataset),
                per_step,
                self.dist.rank,
                self.dist.world_size,
                cfg.seed,
                self.step,
                lengths,
                cfg.bucket_window,
            )
            dataset = SeededItems(dataset)
        else:
            sampler = None
        return DataLoader(
            dataset,
            batch_size=cfg.batch_size,
            sampler=sampler,
            shuffle=False,
            num_workers=cfg.num_workers,
            collate_fn=self.task.collate,
            generator=torch.Generator().manual_seed(cfg.seed),  # keeps the global RNG untouched
            persistent_workers=cfg.num_workers > 0 and train,
        )

    def _to_device(self, batch: Batch) -> Batch:
        return {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}

    # --- training ---------------------------------------------------------------------------

    def _autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def train_step(self, micro_batches: list[Batch]) -> dict[str, float] | None:
        """One optimiser step over ``grad_accum`` micro-batches; None when the loss was NaN/Inf."""
        cfg = self.config
        for group in self.optimizer.param_groups:
            group["lr"] = cfg.learning_rate_at(self.step)
        self.optimizer.zero_grad(set_to_none=True)
        metrics: dict[str, float] = {}
        finite = True
        for i, batch in enumerate(micro_batches):
            last = i == len(micro_batches) - 1
            sync = contextlib.nullcontext() if last or not self.dist.enabled else self.ddp.no_sync()
            with sync:
                with self._autocast():
                    loss, values = self.task.loss(self.step_model, self._to_device(batch))
                finite = finite and bool(torch.isfinite(loss.detach()).all())
                self.scaler.scale(loss / len(micro_batches)).backward()
            for key, value in values.items():
                metrics[key] = metrics.get(key, 0.0) + value / len(micro_batches)
        if not all_agree(finite, self.dist):
            self.optimizer.zero_grad(set_to_none=True)
            return None
        if cfg.grad_clip is not None:
            self.scaler.unscale_(self.optimizer)
            metrics["grad_norm"] = float(torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip))
        self.scaler.step(self.optimizer)
        self.scaler.update()
        metrics["lr"] = cfg.learning_rate_at(self.step)
        return metrics

    @torch.no_grad()
    def validate(self, loader: DataLoader) -> dict[str, float]:
        """The validation record: "loss", the mean over the whole validation list (all ranks see it all), and
        on the main rank the task's :meth:`~TrainTask.validation_metrics` of the first batch."""
        self.model.eval()
        total, count, first = 0.0, 0, None
        for batch in loader:
            if not batch:
                continue
            with self._autocast():
                loss, _ = self.task.loss(self.model, self._to_device(batch))
            total, count = total + float(loss), count + 1
            first = first if first is not None else batch
        if count == 0:  # every rank reads the whole list, so all stop together
            raise TTSError(
                f"no utterance of the validation list {self.config.val_filelist} could be read (the warnings say "
                "why): fix it, or leave out val_filelist"
            )
        extra = {}
        if first is not None and self.dist.is_main:
            batch = self._to_device(first)
            extra = self.task.validation_metrics(self.model, batch)
            self.task.validation_artifacts(self.model, batch, self.output_dir, self.step)
        self.model.train()
        return {"loss": mean_across(total / max(count, 1), self.dist), **extra}

    def run(self) -> int:
        """Train until ``config.steps`` (or ``config.max_minutes``); checkpoints on the way and at the end."""
        cfg = self.config
        # every input is read and checked before anything is written, so a bad one leaves no output directory
        train_loader = self._loader(cfg.filelist, train=True)
        val_loader = self._loader(cfg.val_filelist, train=False) if cfg.val_filelist else None
        self._make_output_dir()
        if self.dist.is_main:  # before training: no other process of this run writes to the folder yet
            ckpt.remove_unfinished_writes(self.output_dir)
        self.logger = TrainLogger(self.output_dir, enabled=self.dist.is_main)
        train_iter = iter(train_loader)
        bar = tqdm(total=cfg.steps, initial=self.step, disable=not self.dist.is_main, unit="step", desc=self.task.name)
        bad_steps, started, start_step = 0, time.time(), self.step
        self.model.train()
        try:
            while self.step < cfg.steps:
                micro_batches = [next(train_iter) for _ in range(cfg.grad_accum)]
                # a batch whose every utterance was unreadable comes as {}: every rank skips the step
                readable = all_agree(all(micro_batches), self.dist)
                metrics = self.train_step(micro_batches) if readable else None
                if metrics is None:
                    bad_steps += 1
                    why = "loss is NaN or Inf" if readable else "no utterance of the batch could be read"
                    log.warning("step %d: %s; step skipped (%d in a row)", self.step, why, bad_steps)
                    if bad_steps >= cfg.max_bad_steps:
                        raise TTSError(
                            f"{bad_steps} steps in a row were skipped at step {self.step} (the last: {why}): "
                            "check the data (the warnings name unreadable files), lower the learning rate, or "
                            "resume from an earlier checkpoint"
                        )
                    continue
                bad_steps = 0
                self.step += 1
                rate = (self.step - start_step) / max(time.time() - started, 1e-9)
                bar.update(1)
                bar.set_postfix(loss=f"{metrics['loss']:.4f}", steps_per_s=f"{rate:.2f}")
                if self.step % cfg.log_every == 0 or self.step == cfg.steps:
                    self.logger.write(self.step, "train", {**metrics, "steps_per_s": rate})
                if val_loader is not None and (self.step % cfg.val_every == 0 or self.step == cfg.steps):
                    record = self.validate(val_loader)
                    self.logger.write(self.step, "val", record)
                    extra = "".join(f", {key} {value:.4f}" for key, value in record.items() if key != "loss")
                    bar.write(f"step {self.step}: validation loss {record['loss']:.4f}{extra}")
                # (no collective call per step unless a limit is set; every rank takes the same branch)
                if (
                    cfg.max_minutes is not None
                    and self.step < cfg.steps
                    and all_agree(time.time() - started > cfg.max_minutes * 60, self.dist)
                ):
                    bar.write(f"step {self.step}: {cfg.max_minutes:g} minutes are up; saving and stopping")
                    self.save_checkpoint()
                    break
                if self.step % cfg.checkpoint_every == 0 or self.step == cfg.steps:
                    self.save_checkpoint()
        finally:
            bar.close()
            self.logger.close()
        return self.step

    def close(self) -> None:
        teardown(self.dist)


def _differences(now: dict[str, Any], then: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Keys whose values differ between two model configs (lists and tuples alike), as (now, then)."""
    keys = sorted(set(now) | set(then))
    return {k: (now.get(k), then.get(k)) for k in keys if json.dumps(now.get(k)) != json.dumps(then.get(k))}
