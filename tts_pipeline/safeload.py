"""Loading pickled PyTorch checkpoints without running code from the file.

Uses torch's weights-only unpickler (tensors, containers and primitive types only) with an explicit
allow-list of stand-in classes for the few non-tensor objects a known checkpoint layout pickles.
Anything else is refused with a CheckpointError.
"""

from __future__ import annotations

import pickle
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from .errors import CheckpointError
from .fileio import check_readable


def safe_torch_load(path: str | Path, stand_ins: Iterable[tuple[type, str]] = ()) -> Any:
    """Load a ``torch.save`` file (zip or legacy format) on the CPU, admitting only safe types.

    Args:
        path: the checkpoint file.
        stand_ins: ``(cls, "module.Name")`` pairs: when the pickle names ``module.Name``, an instance of
            ``cls`` is created (with ``cls.__new__``) and its ``__dict__`` filled from the pickled state.
            Stand-ins must not run code from the state.

    Raises:
        CheckpointError: the file is missing, empty, truncated, not a torch file, or names a class or
            function outside the allow-list.
    """
    p = check_readable(path, "checkpoint")
    if p.stat().st_size == 0:
        raise CheckpointError(f"checkpoint {p} is empty (0 bytes); download or copy it again")
    try:
        with torch.serialization.safe_globals(list(stand_ins)):
            return torch.load(p, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(
            f"refusing to load {p}: it holds something other than tensors and known model layouts "
            f"({first[:200]}); only load checkpoints from sources you trust"
        ) from None
    except (EOFError, RuntimeError, zipfile.BadZipFile, OSError, ValueError, KeyError, AttributeError) as exc:
        raise CheckpointError(
            f"cannot read checkpoint {p}: not a PyTorch checkpoint or truncated ({type(exc).__name__}); "
            "download or copy it again"
        ) from None
