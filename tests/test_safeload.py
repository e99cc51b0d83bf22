"""Safe checkpoint loading: crafted pickles are refused before any of their code runs."""

from __future__ import annotations

import argparse
import builtins
import os
import re
import subprocess
import sys

import pytest
import torch
from torch import nn

from tts_pipeline.errors import CheckpointError
from tts_pipeline.safeload import PickledModule, inert_function, safe_torch_load

FORMATS = [pytest.param(False, id="zip"), pytest.param(True, id="legacy")]


def save(obj, path, legacy: bool) -> None:
    torch.save(obj, path, _use_new_zipfile_serialization=not legacy)


class Payload:
    """Pickles as a call of ``function(*args)``: what a malicious checkpoint runs on an unrestricted load."""

    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __reduce__(self):
        return (self.function, self.args)


def payloads(marker) -> dict[str, Payload]:
    """Each creates ``marker`` when unpickled without restriction."""
    code = f"open({str(marker)!r}, 'w').close()"
    return {
        "os.system": Payload(os.system, f"touch '{marker}'"),
        "subprocess": Payload(subprocess.call, ["touch", str(marker)]),
        "eval": Payload(builtins.eval, code),
        "exec": Payload(builtins.exec, code),
    }


@pytest.mark.parametrize("legacy", FORMATS)
@pytest.mark.parametrize("name", ["os.system", "subprocess", "eval", "exec"])
def test_code_execution_payloads_are_refused(tmp_path, legacy, name):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    save({"state_dict": {"w": torch.ones(2)}, "x": payloads(marker)[name]}, path, legacy)

    with pytest.raises(CheckpointError, match="refusing to load") as error:
        safe_torch_load(path)

    assert not marker.exists()
    message = str(error.value)
    assert "\n" not in message and "only load checkpoints from sources you trust" in message
    assert {"os.system": "system", "subprocess": ".call", "eval": "eval", "exec": "exec"}[name] in message


@pytest.mark.parametrize("legacy", FORMATS)
def test_module_with_import_side_effects_is_never_imported(tmp_path, monkeypatch, legacy):
    marker = tmp_path / "imported"
    (tmp_path / "side_effect_module.py").write_text(f"open({str(marker)!r}, 'w').close()\n\nclass Thing:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import side_effect_module  # noqa: PLC0415 (needed to pickle an instance)

    path = tmp_path / "thing.pt"
    save({"thing": side_effect_module.Thing()}, path, legacy)
    del sys.modules["side_effect_module"]
    marker.unlink()

    with pytest.raises(CheckpointError, match="side_effect_module.Thing"):
        safe_torch_load(path)

    assert not marker.exists() and "side_effect_module" not in sys.modules


@pytest.mark.parametrize("legacy", FORMATS)
def test_other_classes_are_refused_with_their_name(tmp_path, legacy):
    path = tmp_path / "hparams.pt"
    save({"hparams": argparse.Namespace(lr=1e-3), "state_dict": {}}, path, legacy)
    with pytest.raises(CheckpointError, match="it names argparse.Namespace, which is neither a tensor"):
        safe_torch_load(path)


def test_legacy_module_reader_refuses_payloads_after_a_module(tmp_path):
    """Legacy whole-module pickles take the restricted fallback reader; it must refuse globals too."""
    marker = tmp_path / "pwned"
    path = tmp_path / "evil_module.pt"
    save({"model": nn.Linear(2, 2), "x": payloads(marker)["os.system"]}, path, legacy=True)

    with pytest.raises(CheckpointError, match="it names posix.system"):
        safe_torch_load(path, pickled_classes=["torch.nn.modules.linear.Linear"])

    assert not marker.exists()


@pytest.mark.parametrize("legacy", FORMATS)
def test_pickled_module_becomes_inert_data(tmp_path, legacy):
    linear = nn.Linear(3, 2)
    path = tmp_path / "linear.pt"
    save({"model": linear, "step": 4}, path, legacy)

    with pytest.raises(CheckpointError, match="torch.nn.modules.linear.Linear"):
        safe_torch_load(path)  # not admitted unless asked for
    loaded = safe_torch_load(path, pickled_classes=["torch.nn.modules.linear.Linear"])

    model = loaded["model"]
    assert isinstance(model, PickledModule) and not isinstance(model, nn.Module)
    assert model.pickled_name == "torch.nn.modules.linear.Linear"
    assert vars(model)["in_features"] == 3 and loaded["step"] == 4
    assert torch.equal(vars(model)["_parameters"]["weight"], linear.weight)
    assert torch.equal(vars(model)["_parameters"]["bias"], linear.bias)


class OldBackend:
    """Pickles like the ``_backend`` attribute of a PyTorch <= 1.0 module."""

    def __reduce__(self):
        import torch.nn.backends.thnn

        return (torch.nn.backends.thnn._get_thnn_function_backend, ())


@pytest.mark.parametrize("legacy", FORMATS)
def test_inert_function_stand_in(tmp_path, legacy):
    path = tmp_path / "backend.pt"
    save({"backend": OldBackend()}, path, legacy)
    name = "torch.nn.backends.thnn._get_thnn_function_backend"
    with pytest.raises(CheckpointError, match=name):
        safe_torch_load(path)
    assert safe_torch_load(path, stand_ins=[(inert_function(name), name)]) == {"backend": None}


@pytest.mark.parametrize("legacy", FORMATS)
def test_shared_storages_round_trip(tmp_path, legacy):
    base = torch.arange(12, dtype=torch.float32)
    obj = {"a": base, "b": base[3:9].view(2, 3), "c": torch.tensor([1, 2], dtype=torch.int64), "m": nn.Linear(2, 1)}
    path = tmp_path / "shared.pt"
    save(obj, path, legacy)

    loaded = safe_torch_load(path, pickled_classes=["torch.nn.modules.linear.Linear"])

    assert torch.equal(loaded["a"], base) and torch.equal(loaded["b"], base[3:9].view(2, 3))
    assert loaded["c"].dtype == torch.int64 and loaded["c"].tolist() == [1, 2]
    loaded["a"][3] = -1.0  # still one storage, as saved
    assert loaded["b"][0, 0] == -1.0


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        safe_torch_load(tmp_path / "nothing.pt")


@pytest.mark.parametrize(
    "content",
    [b"", os.urandom(4096), b"This is a README, not a checkpoint.\n" * 20, b"\x80\x02K\x01."],
    ids=["empty", "random", "text", "plain-pickle"],
)
def test_non_checkpoints(tmp_path, content):
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError) as error:
        safe_torch_load(path)
    assert "\n" not in str(error.value) and str(path) in str(error.value)


@pytest.mark.parametrize("legacy", FORMATS)
@pytest.mark.parametrize("with_module", [False, True], ids=["state-dict", "module"])
def test_truncated_checkpoints(tmp_path, legacy, with_module):
    path = tmp_path / "half.pt"
    content = nn.Conv1d(8, 8, 3) if with_module else {"w": torch.randn(64, 64)}
    save({"model": content}, path, legacy)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="truncated") as error:
        safe_torch_load(path, pickled_classes=["torch.nn.modules.conv.Conv1d"])
    assert "\n" not in str(error.value)


# ---- damaged and crafted files found by fuzzing the loaders --------------------------------------------------


def _global(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def _build_on(target: bytes, key: str, value: int) -> bytes:
    """A pickle that pushes ``target`` and BUILDs slot state ``{key: value}`` on it."""
    key_op = b"X" + len(key).to_bytes(4, "little") + key.encode()
    return b"\x80\x02" + target + b"(N}(" + key_op + b"J" + value.to_bytes(4, "little") + b"utb."


@pytest.mark.parametrize(
    ("module", "name"),
    [("torch", "FloatStorage"), ("torch._utils", "_rebuild_tensor_v2"), ("torch.nn.parameter", "Parameter")],
)
def test_a_pickle_cannot_set_state_on_shared_allow_listed_objects(module, name):
    """BUILD on a stand-in (not an object the file made) would change how every later file loads."""
    import io
    import pickle

    from tts_pipeline import safeload

    allowed = dict(safeload._LEGACY_ALLOWED)
    before = {key: vars(value).copy() if hasattr(value, "__dict__") else None for key, value in allowed.items()}
    reader = safeload._RestrictedUnpickler(io.BytesIO(_build_on(_global(module, name), "dtype", 7)), allowed, 0)
    with pytest.raises(pickle.UnpicklingError, match="unexpected pickled state"):
        reader.load()
    after = {key: vars(value).copy() if hasattr(value, "__dict__") else None for key, value in allowed.items()}
    assert after == before


def test_a_pickled_module_cannot_rename_its_class(tmp_path):
    path = tmp_path / "renamed.pt"
    linear = nn.Linear(2, 2)
    linear.pickled_name = "glow.WaveGlow"
    save({"model": linear}, path, legacy=True)
    with pytest.raises(CheckpointError, match="renames the class"):
        safe_torch_load(path, pickled_classes=["torch.nn.modules.linear.Linear"])


def test_a_flipped_storage_key_in_a_legacy_file_is_one_error(tmp_path):
    """torch's legacy reader asserts on a storage key it has not seen; that is a damaged file, not a crash."""
    path = tmp_path / "flipped.pt"
    save({"w": torch.ones(4), "v": torch.zeros(3)}, path, legacy=True)
    data = bytearray(path.read_bytes())
    keys = torch.load(path, weights_only=True)  # the file is fine before the flip
    assert set(keys) == {"w", "v"}
    tail = data.rfind(b"]")  # the storage-key list near the end: change one key's digit
    position = data.rfind(b"X", 0, tail) + 5
    data[position] = ord("9") if data[position] != ord("9") else ord("8")
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        safe_torch_load(path)


@pytest.mark.parametrize("legacy", FORMATS)
@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda: torch.full((1,), -5.0).as_strided((80, 2**31), (0, 0)), "claims shape [80, 2147483648]"),
        (lambda: torch.zeros(80, 5).to_sparse(), "sparse_coo tensor"),
    ],
)
def test_tensors_that_are_not_plain_values_are_refused(tmp_path, legacy, make, needle):
    """A 2 KB file must not claim gigabytes (a stride-0 view) or hold tensors no loader can use."""
    path = tmp_path / "odd.pt"
    save({"mel": make()}, path, legacy)
    with pytest.raises(CheckpointError, match=re.escape(needle)):
        safe_torch_load(path)


def test_nesting_deeper_than_any_checkpoint_is_refused(tmp_path):
    deep: object = torch.zeros(1)
    for _ in range(300):
        deep = [deep]
    path = tmp_path / "deep.pt"
    save({"x": deep}, path, legacy=False)
    with pytest.raises(CheckpointError, match="nested more than 100 levels"):
        safe_torch_load(path)
    save({"x": [[[torch.zeros(1)]]]}, path, legacy=False)
    assert torch.equal(safe_torch_load(path)["x"][0][0][0], torch.zeros(1))


def test_model_file_weights_must_be_plain_float_tensors(tmp_path):
    from tts_pipeline.weights import check_state_dict, load_model_file, save_model_file

    check_state_dict({"w": torch.zeros(2, dtype=torch.float16)}, "f")
    for bad, needle in [
        (torch.zeros(2, dtype=torch.int32), "holds int32 values, not float weights"),
        (torch.zeros(2, dtype=torch.complex64), "holds complex64 values"),
        (torch.zeros(2, device="meta"), "is a meta tensor"),
    ]:
        with pytest.raises(CheckpointError, match=re.escape(f"weight 'w\\x07' {needle}")):
            check_state_dict({"w\x07": bad}, "f")  # the key from the file shown escaped
    path = tmp_path / "deep.safetensors"
    save_model_file(path, "waveglow", {}, {"w": torch.zeros(2)})
    from safetensors.torch import save_file

    save_file(
        {"w": torch.zeros(2)},
        str(path),
        metadata={"tts_pipeline.model": "waveglow", "tts_pipeline.config": "[" * 100000 + "]" * 100000},
    )
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_model_file(path)


def test_a_model_given_as_a_mel_or_an_array_given_as_a_checkpoint_says_so(tmp_path):
    import numpy as np

    from tts_pipeline.audio.io import read_mel
    from tts_pipeline.errors import MelError

    save({"model": nn.Linear(2, 2)}, tmp_path / "model.pt", legacy=False)
    with pytest.raises(MelError, match=r"is not a mel file: it names torch.nn.modules.linear.Linear"):
        read_mel(tmp_path / "model.pt")
    np.save(tmp_path / "mel.npy", np.zeros((80, 3), np.float32))
    with pytest.raises(CheckpointError, match=r"is a NumPy array \(.npy\), not a PyTorch checkpoint"):
        safe_torch_load(tmp_path / "mel.npy")


@pytest.mark.parametrize("container", ["raw", "zip"])
def test_objects_nested_past_what_the_unpickler_survives_are_refused_before_unpickling(tmp_path, container):
    """A tuple nested a million levels deep (2 MB) overflowed CPython's own unpickler (a crash, no message):
    the opcodes are read first, without building anything."""
    import zipfile

    deep = b"\x80\x02K\x01" + b"\x85" * 1_000_000 + b"."  # 1, then TUPLE1 a million times
    path = tmp_path / "deep.pt"
    if container == "raw":
        path.write_bytes(deep)
    else:
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("deep/data.pkl", deep)
            archive.writestr("deep/version", "3\n")
    with pytest.raises(CheckpointError, match="nest more than 1000 levels deep"):
        safe_torch_load(path)


def test_pickle_depth_counts_nesting():
    import io
    import pickle

    from tts_pipeline.safeload import pickle_depth

    nested: object = 0
    for _ in range(50):
        nested = [nested]
    assert 50 <= pickle_depth(io.BytesIO(pickle.dumps(nested, protocol=2))) <= 52
    assert pickle_depth(io.BytesIO(pickle.dumps(list(range(10_000)), protocol=4))) <= 2  # long is not deep
    assert pickle_depth(io.BytesIO(b"\x80\x02K\x01" + b"\x85" * 5000 + b"."), limit=1000) == 1001
