"""A fast inference path for WaveGlow on the CPU: the same function as ``WaveGlow.infer``, less arithmetic.

The reference computes each coupling network as convolutions over [B, C, T] tensors. This engine compiles
the trained weights once into an equivalent, cheaper form and runs it time-major ([T, C], rows are group
steps) in cache-sized chunks of rows:

* weight norm folded; the inverse 1x1 matrices computed once;
* the ``start`` conv folded into the first dilated conv (it only lifts n_half channels to C);
* the ``end`` conv folded into the skip halves of the residual/skip convs (skips are only summed, then
  projected to 2 n_half channels), so the skip sum is n_half-wide instead of C-wide;
* tanh(a) sigmoid(b) computed as 2 (sigmoid(2a) - 1/2) sigmoid(b): one sigmoid pass over the gate input,
  the factors 2 folded into the weights (tanh is several times slower than sigmoid on the CPU);
* the dilated kernel-3 convs through Winograd F(6, 3) (:mod:`.winograd`): 4/9 of their multiplications;
* optionally (``fold_conditioning``; by default when it costs at most 256 MB) each layer's conditioning
  conv folded into the mel upsampler: the conditioning of one group step is then a product with the 4 mel
  frames it depends on (320 numbers) instead of the 640 upsampled values, halving that arithmetic, at the
  cost of precomputed weights of n_flows * n_layers * 2 C * (4 n_mel + 1) * hop / n_group floats (2 GB for
  the published 256-channel model, 168 MB for the ``small`` preset).

Every transformation is exact algebra; only float32 rounding differs (about 1e-6 relative).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .config import WaveGlowConfig
from .model import WaveGlow, draw_noise, group_mel
from .winograd import WinogradConv, winograd_weights

DEFAULT_CHUNK = 2048  # group steps per chunk: the working set of one layer stays in the CPU caches
WINOGRAD_TILE = 6  # F(6, 3): 8 products per 6 outputs (F(4, 3): 6 per 4)
FOLDED_CHUNK = 4096  # folded conditioning: 128 hops per product, enough rows for an efficient GEMM
AUTO_FOLD_BYTES = 256 * 2**20  # fold the conditioning by default when its weights take at most this


@dataclass
class _Layer:
    """One WN layer compiled: conv taps (or Winograd), conditioning, residual/skip weights."""

    dilation: int
    taps: torch.Tensor  # [3, c_in, 2C]; layer 0: c_in = n_half (start folded in); empty with Winograd
    winograd: WinogradConv | None
    cond_weight: torch.Tensor  # [n_mel * n_group, 2C], or folded: [frames_per_hop, 4 n_mel + 1, 2C]
    cond_bias: torch.Tensor  # [2C] (unused when folded: the last row of cond_weight holds it)
    res_skip: torch.Tensor  # [C, C + 2 n_half] ([C, 2 n_half] for the last layer)
    res_bias: torch.Tensor  # [C] (residual part only; skip biases are folded into the flow's out_bias)


@dataclass
class _Flow:
    half: int
    start_weight: torch.Tensor  # [n_half, C]
    start_bias: torch.Tensor  # [C]
    edge_bias: torch.Tensor  # [3, 2C]: start bias through each first-layer tap (absent at the edges)
    layers: list[_Layer]
    out_bias: torch.Tensor  # [2 n_half]
    w_inverse_t: torch.Tensor  # [n_ch, n_ch], applied as x @ w_inverse_t


class FastWaveGlow:
    """Inference-only WaveGlow compiled from a trained model (see the module docstring).

    Args:
        model: a :class:`WaveGlow` (weight norm folded or not); its weights are copied, not shared.
        fold_conditioning: fold the conditioning convs into the upsampler (faster, more memory: see
            :func:`folded_conditioning_bytes`); None: fold when that takes at most 256 MB.
        winograd: use Winograd F(6, 3) for the dilated convs (False: three matrix products per conv).
        chunk: group steps per chunk of rows (default: 2048, or 4096 when folding; longer for narrow models).
    """

    def __init__(
        self,
        model: WaveGlow,
        fold_conditioning: bool | None = None,
        winograd: bool = True,
        chunk: int | None = None,
    ) -> None:
        self.config = c = model.config
        if c.kernel_size != 3:
            raise ValueError(f"the fast path needs kernel_size 3, not {c.kernel_size}: use the model itself")
        self.frames_per_hop = c.hop_length // c.n_group
        self.taps_per_frame = -(-c.upsample_kernel // c.hop_length)
        if fold_conditioning is None:
            fold_conditioning = folded_conditioning_bytes(c) <= AUTO_FOLD_BYTES
        self.fold_conditioning = fold_conditioning
        max_dilation = 2 ** (c.n_layers - 1)
        self.tile = WINOGRAD_TILE
        block = math.lcm(self.tile * max_dilation, self.frames_per_hop)
        if chunk is None:  # narrow models: longer chunks, so each product still has work enough
            chunk = (FOLDED_CHUNK if fold_conditioning else DEFAULT_CHUNK) * max(1, 256 // c.n_channels)
        self.chunk = -(-chunk // block) * block
        self.pad_before = max_dilation * (c.kernel_size // 2)
        self.pad_after = (self.tile + 1) * max_dilation  # Winograd's last partial tile reads past the end
        # folded: the conditioning reads mel frames directly, so the upsampler is needed only while compiling
        self.upsample = None if fold_conditioning else _copy_conv_transpose(model.upsample)
        with torch.no_grad():
            upsampler = self._upsampler_matrix(model) if fold_conditioning else None
            self.flows = [self._compile_flow(model, k, winograd, upsampler) for k in range(c.n_flows)]

    # ------------------------------------------------------------------ compiling
    def _compile_flow(
        self, model: WaveGlow, k: int, winograd: bool, upsampler: tuple[torch.Tensor, torch.Tensor] | None
    ) -> _Flow:
        wn = model.WN[k]
        n_ch = wn.n_channels
        gate_scale = torch.cat([torch.full((n_ch,), 2.0), torch.ones(n_ch)]).double()  # tanh via sigmoid(2a)
        weight = lambda conv: conv.current_weight().detach().double()  # noqa: E731
        start_w = weight(wn.start)[:, :, 0].t()  # [n_half, C]
        start_b = wn.start.bias.detach().double()
        cond_w = weight(wn.cond_layer)[:, :, 0]  # [L * 2C, n_mel * n_group]
        cond_b = wn.cond_layer.bias.detach().double()
        end_w = wn.end.weight.detach().double()[:, :, 0]  # [2 n_half, C]
        out_bias = wn.end.bias.detach().double().clone()
        layers = []
        edge_bias = None
        for i in range(wn.n_layers):
            in_layer, res_layer = wn.in_layers[i], wn.res_skip_layers[i]
            taps = weight(in_layer).permute(2, 1, 0) * gate_scale  # [3, C, 2C]
            rows = slice(2 * n_ch * i, 2 * n_ch * (i + 1))
            bias = (cond_b[rows] + in_layer.bias.detach().double()) * gate_scale
            cond = cond_w[rows].t() * gate_scale  # [n_mel * n_group, 2C]
            rs_w = weight(res_layer)[:, :, 0]
            rs_b = res_layer.bias.detach().double()
            if i < wn.n_layers - 1:
                res_skip = torch.cat([rs_w[:n_ch], end_w @ rs_w[n_ch:]]).t()
                res_bias, skip_bias = rs_b[:n_ch], rs_b[n_ch:]
            else:
                res_skip = (end_w @ rs_w).t()
                res_bias, skip_bias = rs_b[:0], rs_b
            out_bias += end_w @ skip_bias
            dilation = in_layer.dilation[0]
            wino = None
            if i == 0:
                edge_bias = start_b @ taps  # [3, 2C]
                bias = bias + edge_bias.sum(0)
                taps = start_w @ taps  # [3, n_half, 2C]
            elif winograd:
                wino = WinogradConv(winograd_weights(taps, self.tile).float(), dilation)
            if upsampler is not None:
                cond = self._fold_into_upsampler(cond, bias, *upsampler)
            layers.append(
                _Layer(
                    dilation=dilation,
                    taps=taps.float().contiguous() if wino is None else taps.new_empty(0).float(),
                    winograd=wino,
                    cond_weight=cond.float().contiguous(),
                    cond_bias=bias.float(),
                    # x2: the gate computes (sigmoid(2a) - 1/2) sigmoid(b) = tanh(a) sigmoid(b) / 2
                    res_skip=(2 * res_skip).float().contiguous(),
                    res_bias=res_bias.float(),
                )
            )
        w_inverse = model.convinv[k].conv.weight.detach().double()[:, :, 0].inverse()
        return _Flow(
            half=start_w.shape[0],
            start_weight=start_w.float().contiguous(),
            start_bias=start_b.float(),
            edge_bias=edge_bias.float(),
            layers=layers,
            out_bias=out_bias.float(),
            w_inverse_t=w_inverse.t().float().contiguous(),
        )

    def _upsampler_matrix(self, model: WaveGlow) -> tuple[torch.Tensor, torch.Tensor]:
        """The upsampler as [p, (k, c), (o, j)] and its bias per (o, j), for :meth:`_fold_into_upsampler`.

        Group step t = hop h * frames_per_hop + p depends on mel frames h - k (k < taps) through upsampler
        kernel positions n_group p + j + hop k (j < n_group, output channel o, input channel c).
        """
        c = self.config
        n_mel, taps, per_hop = c.n_mel_channels, self.taps_per_frame, self.frames_per_hop
        up = model.upsample.weight.detach().float()  # [n_mel in c, n_mel out o, kernel]
        up = torch.nn.functional.pad(up, (0, taps * c.hop_length - up.shape[-1]))
        up = up.view(n_mel, n_mel, taps, per_hop, c.n_group).permute(3, 2, 0, 1, 4)
        up_bias = model.upsample.bias.detach().float().repeat_interleave(c.n_group)
        return up.reshape(per_hop, taps * n_mel, -1).contiguous(), up_bias

    @staticmethod
    def _fold_into_upsampler(
        cond: torch.Tensor, bias: torch.Tensor, up: torch.Tensor, up_bias: torch.Tensor
    ) -> torch.Tensor:
        """[n_mel * n_group, 2C] conditioning weights -> [frames_per_hop, taps * n_mel + 1, 2C].

        Row k * n_mel + c of phase p multiplies mel[c, h - k]; the last row (times a constant 1) holds
        the bias, including the upsampler's own bias.
        """
        per_hop = up.shape[0]
        cond = cond.float()
        # float32 products: float64 takes half a minute for the 256-channel model, for errors near 1e-7
        folded = torch.bmm(up, cond.expand(per_hop, *cond.shape))  # [p, (k, c), 2C]
        bias_row = (up_bias @ cond + bias.float()).expand(per_hop, 1, -1)
        # per phase: [p, taps * n_mel + 1, 2C] (one product per phase keeps each weight block cache-sized)
        return torch.cat([folded, bias_row], dim=1)

    # ------------------------------------------------------------------ inference
    @torch.inference_mode()
    def infer(self, mel: torch.Tensor, sigma: float = 0.666, generator: torch.Generator | None = None) -> torch.Tensor:
        """mel [B, n_mel, T] float32 -> audio [B, T * hop_length]; the same noise draws as ``WaveGlow.infer``."""
        return self.inverse(draw_noise(self.config, mel, sigma, generator), mel)

    @torch.inference_mode()
    def inverse(self, z: torch.Tensor, mel: torch.Tensor) -> torch.Tensor:
        """z [B, n_group, T * hop_length / n_group], mel [B, n_mel, T] -> audio [B, T * hop_length]."""
        if z.shape[-1] != mel.shape[-1] * self.frames_per_hop:
            raise ValueError(f"noise of {z.shape[-1]} group steps does not fit a mel of {mel.shape[-1]} frames")
        return torch.stack([self._reverse_one(z[b].t(), mel[b]) for b in range(mel.shape[0])])

    def _reverse_one(self, z: torch.Tensor, mel: torch.Tensor) -> torch.Tensor:
        """z [T', n_group] time-major noise, mel [n_mel, T] -> audio [T' * n_group]."""
        c = self.config
        cond = self._conditioning_input(mel)
        channels = c.flow_channels()
        used = z.shape[1] - channels[-1]
        x = z[:, used:]
        for k in reversed(range(c.n_flows)):
            flow = self.flows[k]
            x0, x1 = x[:, : flow.half], x[:, flow.half :]
            out = self._coupling(flow, x0.contiguous(), cond)
            x1 = (x1 - out[:, : flow.half]) * torch.exp(-out[:, flow.half :])
            x = torch.cat([x0, x1], dim=1) @ flow.w_inverse_t
            if c.is_early_flow(k):
                x = torch.cat([z[:, used - c.n_early_size : used], x], dim=1)
                used -= c.n_early_size
        return x.reshape(-1)

    def _conditioning_input(self, mel: torch.Tensor) -> torch.Tensor:
        """Folded: mel windows [hops, taps * n_mel + 1]; else the grouped upsampled mel [T', n_mel * n_group]."""
        if self.fold_conditioning:
            taps = self.taps_per_frame
            padded = torch.nn.functional.pad(mel, (taps - 1, 0))
            windows = [padded[:, taps - 1 - k : taps - 1 - k + mel.shape[-1]] for k in range(taps)]
            ones = mel.new_ones(1, mel.shape[-1])
            return torch.cat([*windows, ones]).t().contiguous()
        up = self.upsample(mel[None])[:, :, : mel.shape[-1] * self.config.hop_length]
        return group_mel(up, self.config.n_group)[0].t().contiguous()

    def _coupling(self, flow: _Flow, x0: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """x0 [T', n_half] -> [T', 2 n_half]: (b, log s) of the affine coupling."""
        n_steps = x0.shape[0]
        n_ch = flow.start_weight.shape[1]
        lo = self.pad_before
        h = x0.new_zeros(lo + n_steps + self.pad_after, n_ch)
        h_next = torch.zeros_like(h)
        torch.addmm(flow.start_bias, x0, flow.start_weight, out=h[lo : lo + n_steps])
        x0_padded = torch.nn.functional.pad(x0, (0, 0, 1, 1))
        skip = flow.out_bias.expand(n_steps, -1).clone()
        last = len(flow.layers) - 1
        for i, layer in enumerate(flow.layers):
            # folded conditioning: one product per phase over the whole input (more rows, better GEMMs)
            whole = self._conditioning(layer, cond, 0, n_steps) if self.fold_conditioning else None
            for s in range(0, n_steps, self.chunk):
                e = min(n_steps, s + self.chunk)
                pre = whole[s:e] if whole is not None else self._conditioning(layer, cond, s, e)
                if i == 0:
                    self._first_conv(flow, pre, x0_padded, s, e, n_steps)
                elif layer.winograd is not None:
                    layer.winograd.add_to(pre, h, lo + s)
                else:
                    d = layer.dilation
                    for j in range(3):
                        pre.addmm_(h[lo + s + (j - 1) * d : lo + e + (j - 1) * d], layer.taps[j])
                pre.sigmoid_()
                acts = pre[:, :n_ch].sub_(0.5).mul_(pre[:, n_ch:])
                if i < last:
                    rs = acts @ layer.res_skip
                    torch.add(h[lo + s : lo + e], rs[:, :n_ch], out=h_next[lo + s : lo + e]).add_(layer.res_bias)
                    skip[s:e] += rs[:, n_ch:]
                else:
                    skip[s:e].addmm_(acts, layer.res_skip)
            h, h_next = h_next, h
        return skip

    def _conditioning(self, layer: _Layer, cond: torch.Tensor, s: int, e: int) -> torch.Tensor:
        """Conditioning plus biases for rows [s, e): a new [e - s, 2C] tensor."""
        if self.fold_conditioning:
            per_hop = self.frames_per_hop
            windows = cond[s // per_hop : e // per_hop]
            out = windows.new_empty(windows.shape[0], per_hop, layer.cond_weight.shape[-1])
            for p in range(per_hop):
                torch.mm(windows, layer.cond_weight[p], out=out[:, p])
            return out.view(e - s, -1)
        return torch.addmm(layer.cond_bias, cond[s:e], layer.cond_weight)

    @staticmethod
    def _first_conv(flow: _Flow, pre: torch.Tensor, x0_padded: torch.Tensor, s: int, e: int, n: int) -> None:
        """pre += dilation-1 conv of start(x0) for rows [s, e), with start folded into the taps."""
        taps = flow.layers[0].taps
        for j in range(3):
            pre.addmm_(x0_padded[s + j : e + j], taps[j])
        # the start bias was added through all three taps; zero padding has no bias at the two edges
        if s == 0:
            pre[0] -= flow.edge_bias[0]
        if e == n:
            pre[-1] -= flow.edge_bias[2]


def folded_conditioning_bytes(config: WaveGlowConfig) -> int:
    """Bytes of float32 weights the folded conditioning needs (2 GB for the published 256-channel model)."""
    taps = -(-config.upsample_kernel // config.hop_length)
    per_hop = config.hop_length // config.n_group
    rows = taps * config.n_mel_channels + 1
    return 4 * config.n_flows * config.n_layers * per_hop * rows * 2 * config.n_channels


def _copy_conv_transpose(conv: torch.nn.ConvTranspose1d) -> torch.nn.ConvTranspose1d:
    """A detached float32 copy of the upsampler (the engine owns its weights)."""
    copy = torch.nn.ConvTranspose1d(
        conv.in_channels, conv.out_channels, conv.kernel_size[0], stride=conv.stride[0], device="cpu"
    )
    copy.load_state_dict({k: v.detach().float().cpu() for k, v in conv.state_dict().items()})
    return copy.requires_grad_(False)
