"""Writing audio as it is produced: to a file (atomically, on close) or as raw PCM to stdout."""

from __future__ import annotations

import sys
from contextlib import ExitStack
from pathlib import Path
from typing import BinaryIO

import numpy as np
import soundfile as sf
import torch

from ..errors import AudioIOError
from ..fileio import atomic_output
from .io import AUDIO_EXTENSIONS, to_pcm16

STDOUT = "-"


class AudioStreamWriter:
    """Append mono audio chunks to ``.wav``/``.flac``/``.npy`` or, for ``-``, to stdout as raw 16-bit PCM.

    Files are written to a temporary file beside the target and renamed only when the writer closes
    without an error, so an interrupted run never leaves a complete-looking file.
    """

    def __init__(self, path: str | Path, sample_rate: int, stdout: BinaryIO | None = None) -> None:
        self.path = str(path)
        self.sample_rate = sample_rate
        self.samples_written = 0
        self._stdout = stdout
        self._stack = ExitStack()
        self._file: sf.SoundFile | None = None
        self._chunks: list[np.ndarray] = []  # .npy only: numpy has no append mode
        if self.path != STDOUT:
            ext = Path(self.path).suffix.lower()
            if ext not in AUDIO_EXTENSIONS:
                raise AudioIOError(
                    f"cannot write {self.path}: unknown audio extension {ext or '(none)'}; "
                    "use .wav, .flac, .npy or - for raw PCM on stdout"
                )
            self._ext = ext

    def __enter__(self) -> AudioStreamWriter:
        if self.path == STDOUT:
            self._stdout = self._stdout or sys.stdout.buffer
        else:
            self._tmp = self._stack.enter_context(atomic_output(self.path))
            if self._ext != ".npy":
                self._file = sf.SoundFile(
                    str(self._tmp), "w", self.sample_rate, 1, subtype="PCM_16", format=self._ext[1:].upper()
                )
        return self

    def write(self, samples: torch.Tensor | np.ndarray) -> None:
        """Append float samples [L] (clipped to 16-bit for PCM outputs)."""
        data = samples.detach().float().cpu().numpy() if isinstance(samples, torch.Tensor) else np.asarray(samples)
        data = data.astype(np.float32).reshape(-1)
        self.samples_written += data.size
        if self.path == STDOUT:
            self._stdout.write(to_pcm16(data).astype("<i2").tobytes())
            self._stdout.flush()
        elif self._file is not None:
            self._file.write(to_pcm16(data))
            self._file.flush()
        else:
            self._chunks.append(data)

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._file is not None:
            self._file.close()
        if exc_type is None and self.path != STDOUT and self._ext == ".npy":
            with open(self._tmp, "wb") as fh:
                np.save(fh, np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.float32))
        # atomic_output renames on success, removes the temp file on error
        self._stack.__exit__(exc_type, exc, tb)
