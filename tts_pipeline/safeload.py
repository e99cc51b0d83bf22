"""Loading pickled PyTorch checkpoints without running code from the file.

Uses torch's weights-only unpickler (tensors, containers and primitive types only) with an explicit
allow-list of stand-ins for the few non-tensor objects a known checkpoint layout pickles. A pickled
``torch.nn.Module`` (or a model class such as NVIDIA's ``glow.WaveGlow``) becomes a :class:`PickledModule`:
an inert record whose ``__dict__`` holds the pickled attributes (``_parameters``, ``_modules``, ints, ...),
so callers read tensors and sizes from it as data; no method of the original class exists or runs.
Anything else a file names is refused with a CheckpointError.
"""

from __future__ import annotations

import pickle
import pickletools
import re
import struct
import warnings
import zipfile
from collections import OrderedDict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, ClassVar

import torch
from safetensors import SafetensorError

from .errors import AudioIOError, CheckpointError
from .fileio import check_readable


class PickledModule:
    """Inert stand-in for an object of an allow-listed class: the pickled attributes, nothing else.

    Each allowed ``"module.Name"`` gets its own subclass (see :func:`pickled_class`) whose
    ``pickled_name`` records the name the file used, so callers can tell ``glow.WN`` from ``glow_old.WN``.
    """

    pickled_name: ClassVar[str] = ""

    def __setstate__(self, state: Any) -> None:
        """Called by the unpickler's BUILD: accept only a dict of attribute names (our code, not the file's)."""
        if isinstance(state, tuple) and len(state) == 2 and state[1] is None:
            state = state[0]  # (dict state, slot state) with no slots
        if not isinstance(state, dict) or not all(isinstance(key, str) for key in state):
            raise pickle.UnpicklingError(
                f"unexpected pickled state for {self.pickled_name}: {type(state).__name__}, not an attribute dict"
            )
        if "pickled_name" in state or any(key.startswith("__") for key in state):
            raise pickle.UnpicklingError(f"unexpected pickled state for {self.pickled_name}: it renames the class")
        self.__dict__.update(state)

    def __repr__(self) -> str:
        return f"<pickled {self.pickled_name}>"


_PICKLED_CLASSES: dict[str, type[PickledModule]] = {}


def pickled_class(name: str) -> type[PickledModule]:
    """The :class:`PickledModule` subclass standing in for ``name`` ("module.Name"), created once."""
    if name not in _PICKLED_CLASSES:
        module, _, short = name.rpartition(".")
        if not module or not short.isidentifier():
            raise ValueError(f"stand-in name must be 'module.Name', got {name!r}")
        _PICKLED_CLASSES[name] = type(short, (PickledModule,), {"pickled_name": name, "__module__": __name__})
    return _PICKLED_CLASSES[name]


def inert_function(name: str, result: Any = None) -> Callable[[], Any]:
    """A stand-in for a no-argument function a pickle calls (e.g. a removed backend getter): returns ``result``."""

    def stand_in() -> Any:
        return result

    stand_in.__qualname__ = stand_in.__name__ = name.rpartition(".")[2]
    return stand_in


def safe_torch_load(
    path: str | Path,
    stand_ins: Iterable[tuple[Any, str]] = (),
    pickled_classes: Iterable[str] = (),
) -> Any:
    """Load a ``torch.save`` file (zip or legacy format) on the CPU, admitting only safe types.

    Args:
        path: the checkpoint file.
        stand_ins: ``(obj, "module.Name")`` pairs: when the pickle names ``module.Name`` it gets ``obj``,
            a class (instantiated with ``cls.__new__`` and filled by ``__setstate__`` or ``__dict__``) or a
            function (called with the pickled arguments). Stand-ins must not run code from the state.
        pickled_classes: ``"module.Name"`` strings; each is admitted as a :class:`PickledModule` subclass.

    Raises:
        CheckpointError: the file is missing, empty, truncated, not a torch file, or names a class or
            function outside the allow-list.
    """
    try:
        p = check_readable(path, "checkpoint")
    except AudioIOError as exc:
        raise CheckpointError(str(exc)) from None
    if p.stat().st_size == 0:
        raise CheckpointError(f"checkpoint {p} is empty (0 bytes); download or copy it again")
    _check_pickle_nesting(p)
    with open(p, "rb") as fh:
        if fh.read(6) == NUMPY_MAGIC:
            raise CheckpointError(
                f"{p} is a NumPy array (.npy), not a PyTorch checkpoint: a mel goes to `vocode` as an input, "
                "a model's weights to --checkpoint"
            )
    allowed = list(stand_ins) + [(pickled_class(name), name) for name in pickled_classes]
    try:
        try:
            with torch.serialization.safe_globals(allowed), warnings.catch_warnings():
                # torch warns about pickle protocols it did not write; the outcome is reported below
                warnings.filterwarnings("ignore", message="Detected pickle protocol")
                warnings.filterwarnings("ignore", category=UserWarning, module="torch")
                loaded = torch.load(p, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as exc:
            # Legacy-format files of whole pickled modules record each module class as a persistent id,
            # which torch's weights-only unpickler refuses outright; read those with our restricted reader.
            if "persistent_load" not in str(exc) or zipfile.is_zipfile(p):
                raise
            loaded = load_legacy(p, {name: obj for obj, name in allowed})
        _check_loaded(loaded, p)
        return loaded
    except pickle.UnpicklingError as exc:
        reason = _unpickler_reason(str(exc))
        if _is_refusal(reason):
            refusal = CheckpointError(
                f"refusing to load {p}: {_describe_refusal(reason)}; it is not a checkpoint layout this project "
                "knows, and loading it could run code: only load checkpoints from sources you trust"
            )
            refusal.refused = _describe_refusal(reason)
            raise refusal from None
        raise _unreadable(p, reason) from None
    except (
        EOFError,
        RuntimeError,
        zipfile.BadZipFile,
        OSError,
        ValueError,
        KeyError,
        AttributeError,
        AssertionError,  # torch's legacy reader asserts on a storage key it has not seen (a flipped byte)
        IndexError,
        TypeError,
        UnicodeDecodeError,
        struct.error,
        MemoryError,
        RecursionError,
        SafetensorError,  # torch.load hands a file named *.safetensors to safetensors
    ) as exc:
        raise _unreadable(p, type(exc).__name__) from None


NUMPY_MAGIC = b"\x93NUMPY"
MAX_DEPTH = 100  # containers nested deeper than any checkpoint layout (a crafted file's recursion bomb)


MAX_PICKLE_DEPTH = 1000  # objects nested this deep in a pickle (a crafted file: CPython's unpickler overflows)
_IN_PLACE = frozenset({"APPEND", "APPENDS", "SETITEM", "SETITEMS", "ADDITEMS", "BUILD"})
_MEMO_PUT = frozenset({"PUT", "BINPUT", "LONG_BINPUT"})
_MEMO_GET = frozenset({"GET", "BINGET", "LONG_BINGET"})


def pickle_depth(stream: Any, limit: int = MAX_PICKLE_DEPTH) -> int:
    """How deeply the objects of one pickle (read from ``stream`` up to its STOP) nest, found from its
    opcodes without building anything; stops counting past ``limit``. A malformed pickle counts as far as
    it goes (the loader reports it)."""
    stack: list[int] = []
    marks: list[list[int]] = []
    memo: dict[Any, int] = {}
    deepest = 0
    try:
        for op, arg, _pos in pickletools.genops(stream):
            name = op.name
            if name == "MARK":
                marks.append(stack)
                stack = []
            elif name in _MEMO_PUT or name == "MEMOIZE":
                memo[arg if name in _MEMO_PUT else len(memo)] = stack[-1]
            elif name in _MEMO_GET:
                stack.append(memo.get(arg, 0))
            elif name == "POP_MARK":
                stack = marks.pop()
            else:
                before = [s.name for s in op.stack_before]
                if "mark" in before:  # [below..., mark, stackslice]: the slice, then what lies below the mark
                    items, stack = stack, marks.pop()
                    below = before.index("mark")
                    popped = stack[len(stack) - below :] + items if below else items
                    del stack[len(stack) - below :]
                else:
                    count = len(before)
                    popped = stack[len(stack) - count :] if count else []
                    del stack[len(stack) - count :]
                if name in _IN_PLACE:  # the container keeps its place; what goes into it is one level down
                    depth = max(popped[0], max(popped[1:], default=-1) + 1)
                elif name == "DUP":
                    depth = popped[0]
                else:
                    depth = max(popped, default=-1) + 1 if popped else 0
                stack.extend([depth] * len(op.stack_after))
                deepest = max(deepest, depth)
                if deepest > limit:
                    break
            if name == "STOP":
                break
    except (ValueError, IndexError, EOFError):
        pass  # malformed: the unpickler says so
    return deepest


def _check_pickle_nesting(p: Path) -> None:
    """CheckpointError when a pickle in ``p`` nests objects deeper than MAX_PICKLE_DEPTH, before any
    unpickler (whose C code would overflow its stack on a million levels) reads it."""
    try:
        if zipfile.is_zipfile(p):
            with zipfile.ZipFile(p) as archive:
                pickles = [info for info in archive.infolist() if info.filename.endswith(".pkl")]
                depths = []
                for info in pickles:
                    with archive.open(info) as fh:
                        depths.append(pickle_depth(fh))
        else:
            with open(p, "rb") as fh:
                depths = [pickle_depth(fh) for _ in range(4)]  # legacy: magic, protocol, system info, objects
    except (OSError, zipfile.BadZipFile, RuntimeError, ValueError, NotImplementedError):
        return  # the loader reports an unreadable file
    if max(depths, default=0) > MAX_PICKLE_DEPTH:
        raise CheckpointError(
            f"cannot read checkpoint {p}: its objects nest more than {MAX_PICKLE_DEPTH} levels deep, which no "
            "checkpoint does; the file is damaged or crafted"
        )


def _check_loaded(obj: Any, p: Path) -> None:
    """CheckpointError when a loaded object holds a tensor that is not plain values (meta, sparse,
    quantized, or a view claiming more values than its storage holds) or is nested past MAX_DEPTH."""
    from .weights import tensor_problem

    pending: list[tuple[Any, int]] = [(obj, 0)]
    while pending:
        item, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise CheckpointError(
                f"cannot read checkpoint {p}: it is nested more than {MAX_DEPTH} levels deep, which no "
                "checkpoint is; the file is damaged or crafted"
            )
        if isinstance(item, torch.Tensor):
            problem = tensor_problem(item)
            if problem is not None:
                raise CheckpointError(
                    f"cannot read checkpoint {p}: a tensor in it {problem}; the file is damaged or crafted "
                    "(download or copy it again)"
                )
        elif isinstance(item, dict):
            pending.extend((part, depth + 1) for pair in item.items() for part in pair)
        elif isinstance(item, list | tuple | set | frozenset):
            pending.extend((part, depth + 1) for part in item)
        elif isinstance(item, PickledModule):
            pending.extend((part, depth + 1) for part in vars(item).values())


def _unreadable(p: Path, reason: str) -> CheckpointError:
    kind = "safetensors" if p.suffix == ".safetensors" else "PyTorch"
    return CheckpointError(
        f"cannot read checkpoint {p}: not a {kind} checkpoint, or truncated ({reason[:120]}); download or copy it again"
    )


def _unpickler_reason(message: str) -> str:
    """The weights-only unpickler's own reason, without torch's advice to load with weights_only=False."""
    message = re.sub(r"\x1b\[[0-9;]*m", "", message)
    _, found, after = message.partition("WeightsUnpickler error:")
    boilerplate = ("Weights only load failed", "(1)", "(2)", "Please file an issue", "Check the documentation")
    for line in (after if found else message).splitlines():
        line = line.strip()
        if line and not line.startswith(boilerplate):
            return line
    return "UnpicklingError"


_REFUSAL_MARKERS = ("GLOBAL", "allowlisted", "unrecognized function", "Can only", "unexpected pickled state")


def _is_refusal(reason: str) -> bool:
    return any(marker in reason for marker in _REFUSAL_MARKERS)


def _describe_refusal(reason: str) -> str:
    found = re.search(r"GLOBAL (\S+)", reason)
    if found:
        return f"it names {found.group(1)}, which is neither a tensor nor an allowed model class"
    return f"it holds something other than tensors and allowed model classes ({reason[:160]})"


# ---- the legacy (non-zip) torch.save format, read with a restricted unpickler --------------------------------
# Layout: pickles of a magic number, a protocol version and system info; the object pickle, in which storages
# are persistent ids ("storage", type, key, location, numel, view) and, for pickled modules, each module
# class is a persistent id ("module", class, source file, source); a pickle of the storage keys in file
# order; then each storage as an int64 element count followed by its raw little-endian bytes.

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001
_STORAGE_DTYPES = {
    "FloatStorage": torch.float32,
    "DoubleStorage": torch.float64,
    "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16,
    "LongStorage": torch.int64,
    "IntStorage": torch.int32,
    "ShortStorage": torch.int16,
    "CharStorage": torch.int8,
    "ByteStorage": torch.uint8,
    "BoolStorage": torch.bool,
}


class _StorageType:
    def __init__(self, dtype: torch.dtype) -> None:
        self.dtype = dtype


class _LegacyStorage:
    """A storage whose bytes are filled in after the object pickle (tensors made meanwhile share it)."""

    def __init__(self, dtype: torch.dtype, data: torch.UntypedStorage) -> None:
        self.dtype = dtype
        self.data = data


def _rebuild_tensor(storage: Any, offset: int, size: tuple, stride: tuple, *_ignored: Any) -> torch.Tensor:
    if not isinstance(storage, _LegacyStorage):
        raise pickle.UnpicklingError(f"a tensor is rebuilt from a {type(storage).__name__}, not a storage")
    return torch.empty(0, dtype=storage.dtype).set_(storage.data, offset, torch.Size(size), stride)


def _rebuild_parameter(data: Any, requires_grad: bool, *_ignored: Any) -> torch.nn.Parameter:
    if not isinstance(data, torch.Tensor):
        raise pickle.UnpicklingError(f"a parameter is rebuilt from a {type(data).__name__}, not a tensor")
    return torch.nn.Parameter(data, requires_grad=bool(requires_grad))


_LEGACY_ALLOWED: dict[str, Any] = {
    "collections.OrderedDict": OrderedDict,
    "builtins.set": set,
    "torch.Size": torch.Size,
    "torch.nn.parameter.Parameter": torch.nn.Parameter,
    "torch._utils._rebuild_tensor": _rebuild_tensor,
    "torch._utils._rebuild_tensor_v2": _rebuild_tensor,
    "torch._utils._rebuild_parameter": _rebuild_parameter,
    "torch._utils._rebuild_parameter_with_state": _rebuild_parameter,
} | {f"torch.{name}": _StorageType(dtype) for name, dtype in _STORAGE_DTYPES.items()}


# What a pickle may set attributes on (BUILD): objects the file itself made, never a class, a function or
# a shared stand-in from the allow-list (setting those would change how later files load).
_BUILDABLE = (PickledModule, OrderedDict, dict, set, torch.Tensor)


class _RestrictedUnpickler(pickle._Unpickler):
    """Resolves only allow-listed names; every other global is refused before anything runs.

    Python's own (pure-Python) unpickler, so that BUILD can be restricted to objects the file made.
    """

    dispatch = dict(pickle._Unpickler.dispatch)

    def load_build(self) -> None:
        target = self.stack[-2] if len(self.stack) >= 2 else None
        if isinstance(target, type) or not isinstance(target, _BUILDABLE):
            raise pickle.UnpicklingError(
                f"unexpected pickled state for a {type(target).__name__}: only model records and containers take state"
            )
        super().load_build()

    dispatch[pickle.BUILD[0]] = load_build

    def __init__(self, file: Any, allowed: dict[str, Any], budget: int) -> None:
        super().__init__(file)
        self.allowed = allowed
        self.storages: dict[str, _LegacyStorage] = {}
        self.budget = budget  # bytes the storages may claim: no more than the file holds

    def find_class(self, module: str, name: str) -> Any:
        module = "builtins" if module == "__builtin__" else module
        full = f"{module}.{name}"
        if full in self.allowed:
            return self.allowed[full]
        raise pickle.UnpicklingError(f"Unsupported global: GLOBAL {full}")

    def persistent_load(self, pid: Any) -> Any:
        kind = pid[0].decode("ascii") if isinstance(pid, tuple) and isinstance(pid[0], bytes) else None
        kind = pid[0] if isinstance(pid, tuple) and isinstance(pid[0], str) else kind
        if kind == "module" and len(pid) == 4 and pid[1] in self.allowed.values():
            return pid[1]  # a class already admitted by find_class; its recorded source is ignored
        if kind == "storage" and len(pid) == 6:
            return self._storage(*pid[1:])
        raise pickle.UnpicklingError(f"unsupported persistent id {str(pid)[:80]}")

    def _storage(self, storage_type: Any, key: Any, _location: Any, numel: Any, view: Any) -> _LegacyStorage:
        if not isinstance(storage_type, _StorageType) or not isinstance(numel, int) or not isinstance(key, str):
            raise pickle.UnpicklingError("malformed storage record")
        if key not in self.storages:
            nbytes = numel * storage_type.dtype.itemsize
            self.budget -= nbytes
            if numel < 0 or self.budget < 0:
                raise pickle.UnpicklingError("storage sizes exceed the file size (file truncated or corrupt)")
            self.storages[key] = _LegacyStorage(storage_type.dtype, torch.UntypedStorage(nbytes))
        root = self.storages[key]
        if view is None:
            return root
        _view_key, offset, size = view  # storage views of old PyTorch: a byte range of the root
        start = offset * root.dtype.itemsize
        return _LegacyStorage(storage_type.dtype, root.data[start : start + size * root.dtype.itemsize])


def load_legacy(path: Path, stand_ins: dict[str, Any]) -> Any:
    """Read a legacy-format ``torch.save`` file, admitting only tensors and ``stand_ins`` ("module.Name" -> obj)."""
    allowed = _LEGACY_ALLOWED | stand_ins
    with open(path, "rb") as fh:
        header = _RestrictedUnpickler(fh, {}, 0)
        if header.load() != LEGACY_MAGIC or header.load() != LEGACY_PROTOCOL:
            raise pickle.UnpicklingError("not a torch.save file (wrong magic number)")
        info = header.load()
        if not isinstance(info, dict) or not info.get("little_endian", False):
            raise pickle.UnpicklingError("saved on a big-endian machine, which is not supported")
        unpickler = _RestrictedUnpickler(fh, allowed, path.stat().st_size)
        result = unpickler.load()
        keys = _RestrictedUnpickler(fh, {}, 0).load()
        if not isinstance(keys, list) or sorted(keys) != sorted(unpickler.storages):
            raise pickle.UnpicklingError("the storage list does not match the pickled tensors")
        for key in keys:
            storage = unpickler.storages[key]
            (numel,) = struct.unpack("<q", fh.read(8))
            data = fh.read(storage.data.nbytes())
            if numel * storage.dtype.itemsize != storage.data.nbytes() or len(data) != storage.data.nbytes():
                raise EOFError(f"storage {key} is incomplete")
            if data:
                torch.empty(0, dtype=torch.uint8).set_(storage.data).copy_(
                    torch.frombuffer(bytearray(data), dtype=torch.uint8)
                )
    return result
