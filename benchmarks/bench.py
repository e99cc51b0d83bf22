"""Synthesis speed and memory of WaveGlow and Tacotron2, every fast path against the plain reference.

    python benchmarks/bench.py                 # the full run written down in BENCHMARKS.md
    python benchmarks/bench.py --quick         # a smoke run: short inputs, one repeat
    python benchmarks/bench.py --markdown out.md --json out.json

Models have random weights (speed does not depend on them; the couplings are made non-trivial so the
error figures mean something). Each speed is the median of ``--repeats`` timed runs after one warm-up;
the variants of one model and device are timed in interleaved rounds, so drift in the machine's speed
hits them alike. "x ref" is the speed over the reference path's (the model as trained: weight norm in
place, everything recomputed, float32) measured in the same run; "error" is max |out - ref| / max |ref|
with the same noise. Peak memory: CUDA's peak allocation, or on the CPU the peak rise of the process's
resident set during the run (sampled every 2 ms, after handing freed memory back to the OS), plus the
weights each path holds.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import json
import logging
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from tts_pipeline_tacotron2.checkpoint import save_tacotron2
from tts_pipeline_tacotron2.config import PRESETS as TACOTRON2_PRESETS
from tts_pipeline_tacotron2.model import Tacotron2
from tts_pipeline_waveglow.checkpoint import save_waveglow
from tts_pipeline_waveglow.chunked import infer_chunked
from tts_pipeline_waveglow.compiled import CompiledWaveGlow
from tts_pipeline_waveglow.config import PRESETS as WAVEGLOW_PRESETS
from tts_pipeline_waveglow.fast import FastWaveGlow
from tts_pipeline_waveglow.model import WaveGlow, draw_noise

from tts_pipeline.pipeline import Pipeline


@dataclass
class Row:
    """One measured configuration."""

    model: str
    device: str
    dtype: str
    path: str
    speed: float  # WaveGlow: kHz of audio; Tacotron2: decoder steps/s; say: seconds to first audio
    unit: str
    real_time_factor: float | None  # synthesis time / audio duration
    speedup: float | None
    error: float | None
    weights_mb: float | None
    peak_mb: float | None
    note: str = ""


class PeakMemory:
    """Peak memory above the level at entry: CUDA allocations, or the CPU resident set sampled."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.peak_mb = 0.0

    def __enter__(self) -> PeakMemory:
        _release_free_memory()
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self._base = torch.cuda.memory_allocated()
        else:
            self._base = _rss()
            self._peak = self._base
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.002):
            self._peak = max(self._peak, _rss())

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            self.peak_mb = (torch.cuda.max_memory_allocated() - self._base) / 2**20
        else:
            self._stop.set()
            self._thread.join()
            self.peak_mb = (max(self._peak, _rss()) - self._base) / 2**20


def _release_free_memory() -> None:
    """Hand freed heap memory back to the OS (glibc), so the next peak is measured from a low level."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _rss() -> int:
    """Resident set size of this process in bytes (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * 4096
    except OSError:
        return 0


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def tensor_mb(tensors) -> float:
    return sum(t.numel() * t.element_size() for t in tensors) / 2**20


def engine_weights_mb(engine) -> float:
    """Bytes of every tensor an engine holds (a module's parameters, or a FastWaveGlow's compiled weights)."""
    if isinstance(engine, torch.nn.Module):
        return tensor_mb(engine.parameters())
    seen: dict[int, torch.Tensor] = {}

    def walk(obj) -> None:
        if isinstance(obj, torch.Tensor):
            seen[id(obj)] = obj
        elif isinstance(obj, torch.nn.Module):
            for t in obj.parameters():
                seen[id(t)] = t
        elif isinstance(obj, list | tuple):
            for item in obj:
                walk(item)
        elif hasattr(obj, "__dict__"):
            for item in vars(obj).values():
                walk(item)

    walk(engine)
    return tensor_mb(seen.values())


def random_waveglow(preset: str, device: torch.device) -> WaveGlow:
    """A WaveGlow of a preset size with random, non-trivial couplings (weight norm in place)."""
    torch.manual_seed(0)
    model = WaveGlow(WAVEGLOW_PRESETS[preset]).eval()
    with torch.no_grad():
        for wn in model.WN:
            wn.end.weight.normal_(0, 0.02)
            wn.end.bias.normal_(0, 0.02)
    return model.to(device)


def time_variants(
    variants: dict[str, Callable[[], torch.Tensor]], device: torch.device, repeats: int
) -> tuple[dict[str, float], dict[str, torch.Tensor], dict[str, float]]:
    """Median seconds per variant over interleaved rounds, each variant's output, and its peak memory."""
    outputs, peaks = {}, {}
    for name, run in variants.items():  # warm-up, output, memory
        with PeakMemory(device) as peak:
            outputs[name] = run().float().cpu()
        peaks[name] = peak.peak_mb
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(repeats):
        for name, run in variants.items():
            _sync(device)
            start = time.perf_counter()
            run()
            _sync(device)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}, outputs, peaks


def bench_waveglow(preset: str, device: torch.device, seconds: float, repeats: int, fold: bool) -> list[Row]:
    """Reference, prepared and (CPU) fast paths, or (CUDA) float32/float16/bfloat16, for one model size."""
    reference = random_waveglow(preset, device)
    config = reference.config
    n_frames = round(seconds * config.sample_rate / config.hop_length)
    mel = torch.randn(1, config.n_mel_channels, n_frames, device=device) - 5.0
    seed = 1234

    def runner(engine, dtype=torch.float32):
        def run():
            generator = torch.Generator(device=device).manual_seed(seed)
            with torch.inference_mode():
                return engine.infer(mel.to(dtype), sigma=0.666, generator=generator)

        return run

    prepared = random_waveglow(preset, device).prepare_for_inference()
    variants = {"reference": runner(reference), "prepared (weight norm folded)": runner(prepared)}
    engines = {"reference": reference, "prepared (weight norm folded)": prepared}
    dtypes = {name: "float32" for name in variants}
    if device.type == "cpu":
        engines["fast"] = FastWaveGlow(prepared, fold_conditioning=False)
        variants["fast"] = runner(engines["fast"])
        dtypes["fast"] = "float32"
        if fold:
            engines["fast + folded conditioning"] = FastWaveGlow(prepared, fold_conditioning=True)
            variants["fast + folded conditioning"] = runner(engines["fast + folded conditioning"])
            dtypes["fast + folded conditioning"] = "float32"
    else:
        for dtype in (torch.float16, torch.bfloat16):
            name = f"prepared, {str(dtype).removeprefix('torch.')}"
            engines[name] = random_waveglow(preset, device).prepare_for_inference().to(dtype)
            variants[name] = runner(engines[name], dtype)
            dtypes[name] = str(dtype).removeprefix("torch.")
    times, outputs, peaks = time_variants(variants, device, repeats)
    samples = n_frames * config.hop_length
    return [
        waveglow_row(
            preset,
            device,
            name,
            dtypes[name],
            samples,
            t,
            seconds,
            speedup=times["reference"] / t,
            error=_relative_error(outputs[name], outputs["reference"]),
            weights_mb=engine_weights_mb(engines[name]),
            peak_mb=peaks[name],
            note=f"{seconds:g} s utterance",
        )
        for name, t in times.items()
    ]


def waveglow_row(
    preset: str, device: torch.device, path: str, dtype: str, samples: int, t: float, seconds: float, **fields: Any
) -> Row:
    """A WaveGlow result row: ``samples`` of audio (``seconds`` long) made in ``t`` seconds."""
    return Row(
        model=f"WaveGlow {preset}",
        device=device.type,
        dtype=dtype,
        path=path,
        speed=samples / t / 1e3,
        unit="kHz",
        real_time_factor=t / seconds,
        **fields,
    )


class _GraphedWaveGlow:
    """WaveGlow inference replayed from a CUDA graph captured for one mel shape (GPU experiments).

    The noise is drawn outside the graph with the caller's generator, so the output equals eager
    inference with the same generator; only the launches are saved.
    """

    def __init__(self, model: WaveGlow, mel_shape: tuple[int, ...]) -> None:
        self.model = model
        weight = next(model.parameters())
        self.mel = torch.randn(mel_shape, device=weight.device, dtype=weight.dtype) - 5.0
        self.noise = draw_noise(model.config, self.mel, 1.0)
        self.graph = torch.cuda.CUDAGraph()
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.inference_mode():
            with torch.cuda.stream(side):
                for _ in range(2):
                    self._run()
            torch.cuda.current_stream().wait_stream(side)
            with torch.cuda.graph(self.graph):
                self.audio = self._run()

    def _run(self) -> torch.Tensor:
        return self.model._reverse(self.noise, self.model.upsample_mel(self.mel))

    def infer(self, mel: torch.Tensor, sigma: float, generator: torch.Generator | None = None) -> torch.Tensor:
        self.mel.copy_(mel)
        self.noise.copy_(draw_noise(self.model.config, mel, sigma, generator))
        self.graph.replay()
        return self.audio.clone()


def bench_waveglow_gpu_extras(
    preset: str, device: torch.device, seconds: float, repeats: int, compiled: bool
) -> list[Row]:
    """CUDA only, against float32: float16 with a batch of 8 utterances and float16/bfloat16 replayed from a
    CUDA graph, or (``compiled``) float16 under ``torch.compile``, which takes minutes to build."""
    config = WAVEGLOW_PRESETS[preset]
    n_frames = round(seconds * config.sample_rate / config.hop_length)
    mel = torch.randn(8, config.n_mel_channels, n_frames, device=device) - 5.0
    fp32 = random_waveglow(preset, device).prepare_for_inference()
    fp16 = random_waveglow(preset, device).prepare_for_inference().half()
    engines: dict[str, Any] = {"prepared, float32": fp32}
    if compiled:
        engines["float16, torch.compile"] = CompiledWaveGlow(fp16)
    else:
        shape = (1, config.n_mel_channels, n_frames)
        bf16 = random_waveglow(preset, device).prepare_for_inference().bfloat16()
        engines.update(
            {
                "float16, batch 8": fp16,
                "float16, CUDA graph": _GraphedWaveGlow(fp16, shape),
                "bfloat16, CUDA graph": _GraphedWaveGlow(bf16, shape),
            }
        )
    batch = {name: 8 if "batch 8" in name else 1 for name in engines}
    dtypes = {name: name.split(",")[0] if name != "prepared, float32" else "float32" for name in engines}

    def runner(engine: Any, dtype: torch.dtype, size: int) -> Callable[[], torch.Tensor]:
        def run():
            generator = torch.Generator(device=device).manual_seed(0)
            with torch.inference_mode():
                return engine.infer(mel[:size].to(dtype), sigma=0.666, generator=generator)[:1]

        return run

    variants = {name: runner(e, getattr(torch, dtypes[name]), batch[name]) for name, e in engines.items()}
    times, outputs, peaks = time_variants(variants, device, repeats)
    # the noise of a batch of 8 is drawn differently: its error is against float32 on the same batch
    references = {1: outputs["prepared, float32"], 8: runner(fp32, torch.float32, 8)().float().cpu()}
    return [
        waveglow_row(
            preset,
            device,
            name,
            dtypes[name],
            batch[name] * n_frames * config.hop_length,
            t,
            seconds * batch[name],
            speedup=None,
            error=_relative_error(outputs[name], references[batch[name]]),
            weights_mb=None,
            peak_mb=peaks[name],
            note=f"{seconds:g} s utterances; error against float32",
        )
        for name, t in times.items()
    ]


def _relative_error(out: torch.Tensor, ref: torch.Tensor) -> float:
    return ((out - ref).abs().max() / ref.abs().max()).item()


def bench_long_input(preset: str, minutes: float, chunk_frames: int) -> Row:
    """A long mel through the fast path in exact chunks: time and peak memory stay bounded."""
    device = torch.device("cpu")
    model = random_waveglow(preset, device).prepare_for_inference()
    engine = FastWaveGlow(model)
    config = model.config
    n_frames = round(minutes * 60 * config.sample_rate / config.hop_length)
    mel = torch.randn(1, config.n_mel_channels, n_frames) - 5.0
    with PeakMemory(device) as peak:
        start = time.perf_counter()
        audio = infer_chunked(engine, mel, 0.666, torch.Generator().manual_seed(0), chunk_frames=chunk_frames)
        elapsed = time.perf_counter() - start
    return Row(
        model=f"WaveGlow {preset}",
        device="cpu",
        dtype="float32",
        path=f"fast, chunks of {chunk_frames} frames",
        speed=audio.shape[-1] / elapsed / 1e3,
        unit="kHz",
        real_time_factor=elapsed / (minutes * 60),
        speedup=None,
        error=None,
        weights_mb=engine_weights_mb(engine),
        peak_mb=peak.peak_mb,
        note=f"{minutes:g}-minute mel (output audio alone: {audio.numel() * 4 / 2**20:.0f} MB)",
    )


def random_tacotron2(device: torch.device) -> Tacotron2:
    """The published Tacotron2 size with random weights whose stop gate never fires."""
    torch.manual_seed(0)
    model = Tacotron2(TACOTRON2_PRESETS["published"]).eval()
    with torch.no_grad():
        model.decoder.gate_layer.linear_layer.bias.fill_(-1e4)
    return model.to(device)


def bench_tacotron2(device: torch.device, steps: int, repeats: int) -> list[Row]:
    """Decoder steps per second for one sentence (batch 1) in float32 (and float16 on CUDA)."""
    rows = []
    text = torch.randint(1, 148, (1, 60), device=device)
    lengths = torch.tensor([60], device=device)
    dtypes = [torch.float32] + ([torch.float16] if device.type == "cuda" else [])
    for dtype in dtypes:
        model = random_tacotron2(device).to(dtype)

        def run(model=model):
            with torch.inference_mode():
                return model.infer(text, lengths, max_decoder_steps=steps).mel_postnet

        times, _, peaks = time_variants({"decode": run}, device, repeats)
        rows.append(
            Row(
                model="Tacotron2 published",
                device=device.type,
                dtype=str(dtype).removeprefix("torch."),
                path="decoder, batch 1",
                speed=steps / times["decode"],
                unit="steps/s",
                real_time_factor=times["decode"] / (steps * 256 / 22050),
                speedup=None,
                error=None,
                weights_mb=tensor_mb(model.parameters()),
                peak_mb=peaks["decode"],
                note=f"{steps} steps, 60 symbols",
            )
        )
    return rows


def bench_say(device: torch.device, steps: int) -> Row:
    """Time to first audio of a three-sentence text through the whole pipeline (published sizes)."""
    with tempfile.TemporaryDirectory() as tmp:
        acoustic, vocoder = Path(tmp) / "tacotron2.safetensors", Path(tmp) / "waveglow.safetensors"
        save_tacotron2(acoustic, random_tacotron2(torch.device("cpu")))
        save_waveglow(vocoder, random_waveglow("published-256", torch.device("cpu")))
        pipeline = Pipeline.from_config(
            {
                "acoustic": {"name": "tacotron2", "checkpoint": str(acoustic), "max_decoder_steps": steps},
                "vocoder": {"name": "waveglow", "checkpoint": str(vocoder)},
                "runtime": {"device": device.type},
            }
        )
    text = "The first sentence is short. The second one follows it. And the third ends the text."
    logging.getLogger("tts_pipeline").setLevel(logging.ERROR)  # every sentence reaches the step limit here
    start = time.perf_counter()
    stream = pipeline.synthesize_stream(text)
    first = next(stream)
    to_first = time.perf_counter() - start
    total_audio = first.audio.numel()
    for piece in stream:
        total_audio += piece.audio.numel()
    total = time.perf_counter() - start
    return Row(
        model="say (Tacotron2 + WaveGlow 256)",
        device=device.type,
        dtype="float32",
        path="time to first audio",
        speed=to_first,
        unit="s",
        real_time_factor=total / (total_audio / pipeline.sample_rate),
        speedup=None,
        error=None,
        weights_mb=None,
        peak_mb=None,
        note=f"3 sentences of {steps} frames; all three done in {total:.1f} s",
    )


def markdown(rows: list[Row], machine: str, command: str) -> str:
    lines = [
        f"Machine: {machine}",
        "",
        f"Command: `{command}`",
        "",
        "| model | device | dtype | path | speed | RTF | x ref | error | weights MB | peak MB | note |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:

        def fmt(value, spec):
            return "" if value is None else format(value, spec)

        lines.append(
            f"| {r.model} | {r.device} | {r.dtype} | {r.path} | {r.speed:.4g} {r.unit} | "
            f"{fmt(r.real_time_factor, '.3g')} | {fmt(r.speedup, '.2f')} | {fmt(r.error, '.1e')} | "
            f"{fmt(r.weights_mb, '.0f')} | {fmt(r.peak_mb, '.0f')} | {r.note} |"
        )
    return "\n".join(lines) + "\n"


def describe_machine(threads: int) -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    text = f"{cpu}, {threads} CPU threads, torch {torch.__version__}"
    if torch.cuda.is_available():
        text += f", {torch.cuda.get_device_name()} (CUDA {torch.version.cuda})"
    return text


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short inputs, one repeat (a smoke run)")
    parser.add_argument("--seconds", type=float, default=4.0, help="utterance length for WaveGlow (default 4)")
    parser.add_argument(
        "--gpu-seconds", type=float, default=20.0, help="utterance length on CUDA (default 20: one long utterance)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per variant (median; default 3)")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (default 2)")
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile row (CUDA)")
    parser.add_argument("--no-fold", action="store_true", help="skip the folded-conditioning path (2 GB)")
    parser.add_argument("--long-minutes", type=float, default=10.0, help="long-input test length (0 skips)")
    parser.add_argument("--decoder-steps", type=int, default=200, help="Tacotron2 steps per measurement")
    parser.add_argument("--presets", default="published-256,small", help="WaveGlow sizes (comma-separated)")
    parser.add_argument("--waveglow-only", action="store_true", help="skip Tacotron2, say and the long input")
    parser.add_argument("--devices", default=None, help="comma-separated devices (default: cpu, and cuda if any)")
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON to this file")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.gpu_seconds, args.repeats, args.long_minutes, args.decoder_steps = 0.5, 0.5, 1, 0.5, 20
    torch.set_num_threads(args.threads)
    devices = args.devices.split(",") if args.devices else ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rows: list[Row] = []

    def report(new: list[Row]) -> None:
        rows.extend(new)
        if args.json:  # rewritten after every measurement, so a run cut short keeps what it measured
            args.json.write_text(json.dumps([asdict(r) for r in rows], indent=1))
        for r in new:
            extra = "" if r.speedup is None else f" x{r.speedup:.2f} err {r.error:.1e}"
            print(f"{r.model:32s} {r.device:5s} {r.dtype:9s} {r.path:32s} {r.speed:10.4g} {r.unit}{extra}", flush=True)

    def attempt(what: str, measure: Callable[[], list[Row]]) -> None:
        """Run one measurement; a failure (say, a dtype a GPU lacks) is printed and the rest go on."""
        try:
            report(measure())
        except Exception as exc:  # noqa: BLE001 (a benchmark reports every failure and carries on)
            print(f"{what}: failed: {type(exc).__name__}: {exc}", flush=True)

    for name in devices:
        device = torch.device(name)
        seconds = args.gpu_seconds if device.type == "cuda" else args.seconds
        for preset in args.presets.split(","):
            attempt(
                f"WaveGlow {preset} on {name}",
                lambda p=preset, d=device, s=seconds: bench_waveglow(p, d, s, args.repeats, fold=not args.no_fold),
            )
        if device.type == "cuda":
            attempt(
                "WaveGlow GPU extras",
                lambda d=device, s=seconds: bench_waveglow_gpu_extras("published-256", d, s, args.repeats, False),
            )
        if not args.waveglow_only:
            attempt(f"Tacotron2 on {name}", lambda d=device: bench_tacotron2(d, args.decoder_steps, args.repeats))
            attempt(f"say on {name}", lambda d=device: [bench_say(d, args.decoder_steps)])
        if device.type == "cuda" and not args.no_compile:  # last: building the compiled graph takes minutes
            attempt(
                "WaveGlow torch.compile",
                lambda d=device, s=seconds: bench_waveglow_gpu_extras("published-256", d, s, args.repeats, True),
            )
    if args.long_minutes > 0 and not args.waveglow_only:
        attempt("long input", lambda: [bench_long_input("small", args.long_minutes, chunk_frames=1000)])
    command = "python benchmarks/bench.py " + " ".join(argv if argv is not None else sys.argv[1:])
    table = markdown(rows, describe_machine(args.threads), command.strip())
    print()
    print(table)
    if args.markdown:
        args.markdown.write_text(table)
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=1))


if __name__ == "__main__":
    main()
