"""WaveGlow state dicts of every generation -> the canonical form, and sizes inferred from tensors.

The canonical form uses generation-3 module names (one ``cond_layer`` per flow, fused ``res_skip_layers``)
with weight norm (``weight_g`` [out, 1, 1], ``weight_v`` [out, in, k]) on every WN conv but ``end``.
Stacking is exact on weight-normed pairs: the norm is taken per output channel, so stacking convs along
output channels stacks their ``g`` and ``v`` unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch

from tts_pipeline.errors import CheckpointError, ConfigError, shown

from .config import WaveGlowConfig

# Key prefixes added by DataParallel / DistributedDataParallel (and a wrapping Sequential in some files);
# a model wrapped twice has two.
PREFIXES = ("module.1.", "module.")
# The WN convs that carry weight norm in the canonical form, as state-dict keys of their plain weight.
WEIGHT_NORM_WEIGHT = re.compile(r"^WN\.\d+\.(start|in_layers\.\d+|res_skip_layers\.\d+|cond_layer)\.weight$")
# torch.nn.utils.parametrizations.weight_norm names for the same two tensors
PARAMETRIZED = {".parametrizations.weight.original0": ".weight_g", ".parametrizations.weight.original1": ".weight_v"}
TACOTRON2_MARKERS = ("embedding.weight", "encoder.", "decoder.", "postnet.")
GENERATION_NAMES = {1: "res_layers/skip_layers/cond_layers", 2: "res_skip_layers/cond_layers", 3: "cond_layer"}


def strip_prefixes(state: Mapping[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Remove 'module.1.' / 'module.' key prefixes (repeated ones too); return the new dict and the prefixes found."""
    out: dict[str, torch.Tensor] = {}
    found: list[str] = []
    for key, value in state.items():
        start = 0  # an offset, not a slice per prefix: a crafted key of 300,000 prefixes took 20 s sliced
        while prefix := next((prefix for prefix in PREFIXES if key.startswith(prefix, start)), None):
            start += len(prefix)
            if prefix not in found:
                found.append(prefix)
        key = key[start:]
        for long, short in PARAMETRIZED.items():
            if key.endswith(long):
                key = key[: -len(long)] + short
        out[key] = value
    return out, found


def looks_like_tacotron2(keys: list[str]) -> bool:
    """True for state-dict keys of a Tacotron2 model (embedding, encoder, decoder, postnet)."""
    return any(key == TACOTRON2_MARKERS[0] or key.startswith(TACOTRON2_MARKERS[1:]) for key in keys)


def detect_generation(keys: list[str]) -> int | None:
    """The WN generation (1, 2 or 3) the keys follow, or None when they are not WaveGlow keys."""
    if not any(key.startswith("WN.") for key in keys) or not any(key.startswith("convinv.") for key in keys):
        return None
    if any(".cond_layer." in key for key in keys):
        return 3
    if any(".res_layers." in key or ".skip_layers." in key for key in keys):
        return 1
    if any(".cond_layers." in key for key in keys):
        return 2
    return None


def has_weight_norm(keys: list[str]) -> bool:
    return any(key.endswith(".weight_g") for key in keys)


def split_weight_norm(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A plain conv weight [out, in, k] -> (g [out, 1, 1] = per-output-channel norm, v = weight)."""
    dims = tuple(range(1, weight.dim()))
    g = torch.linalg.vector_norm(weight.double(), dim=dims, keepdim=True).to(weight.dtype)
    return g, weight


def fold_weight_norm(g: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """weight = g * v / ||v|| (norm per output channel)."""
    dims = tuple(range(1, v.dim()))
    return (g.double() * v.double() / torch.linalg.vector_norm(v.double(), dim=dims, keepdim=True)).to(v.dtype)


class _Reader:
    """Takes tensors out of a state dict by key, remembering which were used."""

    def __init__(self, state: Mapping[str, torch.Tensor], generation: int) -> None:
        self.state = state
        self.generation = generation
        self.used: set[str] = set()

    def take(self, key: str) -> torch.Tensor:
        """The tensor at ``key``, which has the rank of a conv's: 1 for a bias, 3 for a weight (or its g, v)."""
        if key not in self.state:
            raise CheckpointError(
                f"the checkpoint's generation-{self.generation} WaveGlow state lacks {key!r}; "
                "the file is incomplete or not a WaveGlow checkpoint"
            )
        self.used.add(key)
        tensor = self.state[key]
        rank, what = (1, "bias has 1 dimension") if key.endswith("bias") else (3, "weight has 3 dimensions")
        if tensor.dim() != rank:
            raise CheckpointError(
                f"the checkpoint's weight {shown(key)} has shape {tuple(tensor.shape)}, but a WaveGlow conv {what}; "
                "the file is damaged or not a WaveGlow checkpoint"
            )
        return tensor

    def weight_norm_pair(self, prefix: str) -> tuple[torch.Tensor, torch.Tensor]:
        """(g, v) of the conv at ``prefix``, split from a plain weight when the file has no weight norm."""
        if prefix + "weight_g" not in self.state and prefix + "weight" in self.state:
            return split_weight_norm(self.take(prefix + "weight"))
        g, v = self.take(prefix + "weight_g"), self.take(prefix + "weight_v")
        if g.shape != (v.shape[0], 1, 1):
            raise CheckpointError(
                f"the checkpoint's weight {shown(prefix + 'weight_g')} has shape {tuple(g.shape)}, but its weight_v "
                f"{tuple(v.shape)} needs ({v.shape[0]}, 1, 1); the file is damaged or not a WaveGlow checkpoint"
            )
        return g, v

    def plain_weight(self, prefix: str) -> torch.Tensor:
        if prefix + "weight_g" in self.state:
            return fold_weight_norm(*self.weight_norm_pair(prefix))
        return self.take(prefix + "weight")

    def stacked(self, prefixes: list[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Convs stacked along output channels: (g, v, bias)."""
        pairs = [self.weight_norm_pair(prefix) for prefix in prefixes]
        if len({v.shape[1:] for _, v in pairs}) > 1:
            raise CheckpointError(
                f"the checkpoint's convs {shown(prefixes[0])} to {shown(prefixes[-1])} have weights of different "
                f"input sizes ({', '.join(str(tuple(v.shape)) for _, v in pairs[:3])}); the file is damaged"
            )
        biases = [self.take(prefix + "bias") for prefix in prefixes]
        return torch.cat([g for g, _ in pairs]), torch.cat([v for _, v in pairs]), torch.cat(biases)


def _count(keys: list[str], pattern: str) -> int:
    regex = re.compile(pattern)
    numbers = {m.group(1) for key in keys if (m := regex.match(key))}
    indices = {int(number) for number in numbers if len(number) < 10}  # Python refuses int() of 4300 digits
    if len(indices) != len(numbers) or indices != set(range(len(indices))):
        numbers_shown = shown(sorted(numbers, key=lambda number: (len(number), number)))
        raise CheckpointError(f"the checkpoint's WaveGlow modules are not numbered 0..n-1 ({pattern}: {numbers_shown})")
    return len(indices)


def to_canonical(state: Mapping[str, torch.Tensor], generation: int) -> dict[str, torch.Tensor]:
    """Convert a (prefix-free) state dict of ``generation`` to canonical generation-3 names with weight norm."""
    keys = list(state)
    state = {key: value.detach().float() if value.is_floating_point() else value for key, value in state.items()}
    n_flows = _count(keys, r"^convinv\.(\d+)\.")
    n_networks = _count(keys, r"^WN\.(\d+)\.")
    if n_flows == 0 or n_networks != n_flows:
        raise CheckpointError(
            f"the checkpoint has {n_flows} invertible convs but {n_networks} WN networks; "
            "the file is incomplete or not a WaveGlow checkpoint"
        )
    n_layers = _count(keys, r"^WN\.0\.in_layers\.(\d+)\.")
    if n_layers == 0:
        raise CheckpointError(
            "the checkpoint's first WN network has no layers (no 'WN.0.in_layers.0.' tensors); "
            "the file is incomplete or not a WaveGlow checkpoint"
        )
    read = _Reader(state, generation)
    out = {"upsample.weight": read.take("upsample.weight"), "upsample.bias": read.take("upsample.bias")}

    def put(prefix: str, g: torch.Tensor, v: torch.Tensor, bias: torch.Tensor) -> None:
        out[prefix + "weight_g"], out[prefix + "weight_v"], out[prefix + "bias"] = g, v, bias

    for k in range(n_flows):
        wn = f"WN.{k}."
        for name in ["start."] + [f"in_layers.{i}." for i in range(n_layers)]:
            put(wn + name, *read.weight_norm_pair(wn + name), read.take(wn + name + "bias"))
        for i in range(n_layers):
            if generation == 1:
                parts = [f"res_layers.{i}.", f"skip_layers.{i}."] if i < n_layers - 1 else [f"skip_layers.{i}."]
            else:
                parts = [f"res_skip_layers.{i}."]
            put(f"{wn}res_skip_layers.{i}.", *read.stacked([wn + part for part in parts]))
        cond = ["cond_layer."] if generation == 3 else [f"cond_layers.{i}." for i in range(n_layers)]
        put(wn + "cond_layer.", *read.stacked([wn + part for part in cond]))
        out[wn + "end.weight"] = read.plain_weight(wn + "end.")
        out[wn + "end.bias"] = read.take(wn + "end.bias")
        out[f"convinv.{k}.conv.weight"] = read.plain_weight(f"convinv.{k}.conv.")
    unused = [key for key in keys if key not in read.used]
    if unused:
        raise CheckpointError(
            f"the checkpoint holds {len(unused)} tensors a generation-{generation} WaveGlow does not have "
            f"(first: {', '.join(shown(key) for key in unused[:3])}); "
            "it is not a WaveGlow checkpoint this project knows"
        )
    return out


def infer_config(canonical: Mapping[str, torch.Tensor], hints: Mapping[str, int]) -> WaveGlowConfig:
    """Sizes from canonical tensor shapes, checked against ``hints`` (pickled attributes or a saved config).

    Hints supply what tensors cannot tell (hop_length, sample_rate, and the early-output spacing when no flow
    drops channels); where both exist they must agree.
    """
    upsample = canonical["upsample.weight"]  # transposed conv: [in, out, kernel]
    flow_channels = [
        canonical[f"convinv.{k}.conv.weight"].shape[0] for k in range(_count(list(canonical), r"^convinv\.(\d+)\."))
    ]
    start_v = canonical["WN.0.start.weight_v"]
    sizes = {
        "n_mel_channels": upsample.shape[0],
        "upsample_kernel": upsample.shape[2],
        "n_flows": len(flow_channels),
        "n_group": flow_channels[0],
        "n_channels": start_v.shape[0],
        "n_layers": _count(list(canonical), r"^WN\.0\.in_layers\.(\d+)\."),
        "kernel_size": canonical["WN.0.in_layers.0.weight_v"].shape[2],
    }
    drops = [k for k in range(1, len(flow_channels)) if flow_channels[k] < flow_channels[k - 1]]
    if drops:
        sizes["n_early_every"] = drops[0]
        sizes["n_early_size"] = flow_channels[drops[0] - 1] - flow_channels[drops[0]]
    for name, value in hints.items():
        if name in sizes and sizes[name] != value:
            raise CheckpointError(
                f"the checkpoint says {name} = {value} but its tensors have {sizes[name]}; the file is inconsistent"
            )
    merged = {**hints, **sizes}
    if not drops:  # no flow drops channels: any spacing of at least n_flows fits
        merged["n_early_every"] = max(merged.get("n_early_every", 4), len(flow_channels), 1)
    try:
        config = WaveGlowConfig.from_dict(merged)
    except ConfigError as exc:
        raise CheckpointError(f"the checkpoint's sizes do not make a valid WaveGlow: {exc}") from None
    if config.flow_channels() != flow_channels:
        raise CheckpointError(
            f"the checkpoint's invertible convs have sizes {flow_channels}, which no early-output spacing gives "
            f"(n_early_every={config.n_early_every}, n_early_size={config.n_early_size} gives {config.flow_channels()})"
        )
    return config
