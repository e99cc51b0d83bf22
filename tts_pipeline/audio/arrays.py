"""Turning what a caller passes as a mel or audio (numpy, torch, nested lists) into a real tensor."""

from __future__ import annotations

from os import PathLike

import numpy as np
import torch

from ..errors import TTSError


def real_tensor(value: object, what: str, error: type[TTSError], *, integers: bool = True) -> torch.Tensor:
    """``value`` as a tensor of real numbers (dtype kept); ``error`` naming ``what`` when it is none.

    Refused: anything that is not an array (a path, None, ...), ragged nested lists, and complex, bool or
    non-numeric elements; integer elements too unless ``integers``.
    """
    if isinstance(value, torch.Tensor):
        tensor = value
    elif isinstance(value, np.ndarray | list | tuple):
        try:
            array = np.asarray(value)
        except ValueError:
            raise error(f"{what} is a ragged nested list: every row needs the same length") from None
        if array.dtype.kind not in "biufc":  # strings, objects, dates
            raise error(f"{what} holds {array.dtype} values, not numbers")
        tensor = torch.as_tensor(array)
    else:
        hint = ": read a file first (tts_pipeline.audio.io)" if isinstance(value, str | bytes | PathLike) else ""
        raise error(f"{what} must be an array (numpy or torch), not {type(value).__name__}{hint}")
    if tensor.is_complex() or tensor.dtype == torch.bool:
        raise error(f"{what} holds {str(tensor.dtype).removeprefix('torch.')} values; it must hold real numbers")
    if not integers and not tensor.is_floating_point():
        raise error(
            f"{what} holds {str(tensor.dtype).removeprefix('torch.')} values: give float samples in [-1, 1] "
            "(16-bit PCM / 32768)"
        )
    return tensor
