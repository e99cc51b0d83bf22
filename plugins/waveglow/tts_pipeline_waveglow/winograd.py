"""Winograd F(m, 3) for WaveGlow's dilated kernel-3 convolutions, in time-major layout.

A kernel-3 convolution computes y[t] = W0 h[t - d] + W1 h[t] + W2 h[t + d]. Winograd's minimal filtering
algorithm F(m, 3) (Lavin and Gray 2015) produces m outputs spaced d apart from m + 2 inputs with m + 2
matrix products instead of 3 m: F(4, 3) does half the multiplications of the direct conv, F(6, 3) 4/9.
The transforms are the Toom-Cook construction: evaluation at the points 0, +-1, +-2 (+-1/2 for m = 6) and
infinity. In float32 they add errors near 1e-6 relative.
"""

from __future__ import annotations

from functools import lru_cache

import torch

TAPS = 3  # kernel size
POINTS = {4: (0.0, 1.0, -1.0, 2.0, -2.0), 6: (0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5)}


@lru_cache(maxsize=4)
def transforms(tile: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(B^T [n, n], G [n, 3], A^T [tile, n]) in float64, n = tile + 2, with y = A^T ((G g) * (B^T x)).

    A^T evaluates the output polynomial at the points, G the kernel (divided by each point's Lagrange
    denominator); B^T is solved from the identity sum_j A^T[i, j] G[j, k] B^T[j, l] = [l == i + k].
    """
    points = POINTS[tile]
    n = tile + TAPS - 1
    at = torch.zeros(tile, n, dtype=torch.float64)
    g = torch.zeros(n, TAPS, dtype=torch.float64)
    for j, a in enumerate(points):
        denominator = 1.0
        for b in points:
            if b != a:
                denominator *= a - b
        at[:, j] = torch.tensor([a**i for i in range(tile)], dtype=torch.float64)
        g[j] = torch.tensor([a**k / denominator for k in range(TAPS)], dtype=torch.float64)
    at[tile - 1, n - 1] = 1.0  # the point at infinity: the leading coefficient
    g[n - 1, TAPS - 1] = 1.0
    system = torch.stack([at[i] * g[:, k] for i in range(tile) for k in range(TAPS)])  # [tile * 3, n]
    targets = torch.tensor(
        [[float(col == i + k) for col in range(n)] for i in range(tile) for k in range(TAPS)], dtype=torch.float64
    )
    bt = torch.linalg.lstsq(system, targets).solution  # [n, n]
    if (system @ bt - targets).abs().max() > 1e-9:
        raise ArithmeticError(f"no exact Winograd F({tile}, 3) input transform for these points")
    return bt.contiguous(), g, at


def winograd_weights(taps: torch.Tensor, tile: int = 4) -> torch.Tensor:
    """Transform conv taps [3, c_in, c_out] (tap j multiplies h[t + (j - 1) d]) into [tile + 2, c_in, c_out]."""
    _, g, _ = transforms(tile)
    return torch.einsum("jk,kab->jab", g.to(taps.device), taps.double()).to(taps.dtype).contiguous()


class WinogradConv:
    """Applies one transformed kernel-3 conv of dilation d to row ranges of a zero-padded time-major buffer."""

    def __init__(self, weights: torch.Tensor, dilation: int) -> None:
        self.weights = weights  # [tile + 2, c_in, c_out]
        self.dilation = dilation
        self.tile = weights.shape[0] - TAPS + 1
        bt, _, at = transforms(self.tile)
        self.bt = bt.to(weights.device, weights.dtype)
        self.at = at.to(weights.device, weights.dtype)

    def rows(self, n: int) -> int:
        """Rows actually computed for n requested outputs (a whole number of tiles of tile * d rows)."""
        block = self.tile * self.dilation
        return -(-n // block) * block

    def add_to(self, out: torch.Tensor, buf: torch.Tensor, row: int) -> None:
        """out[r] += conv(h)[row + r] for r < len(out), where h[t] = buf[t] (buf is zero outside the signal).

        ``buf`` [rows, c_in] must be contiguous and hold zeros (or rows of the signal) for ``dilation``
        rows before ``row`` and ``rows(len(out)) - len(out) + dilation`` rows after ``row + len(out)``.
        """
        n, d, m = out.shape[0], self.dilation, self.tile
        n_pad = self.rows(n)
        n_tiles = n_pad // (m * d)
        c_in = buf.shape[1]
        # input i of tile b at residue r: buf[row - d + m d b + i d + r] (overlapping windows, no copy)
        x = buf.as_strided(
            (m + TAPS - 1, n_tiles, d, c_in), (d * c_in, m * d * c_in, c_in, 1), buf.storage_offset() + (row - d) * c_in
        )
        xt = (self.bt @ x.reshape(m + TAPS - 1, -1)).view(m + TAPS - 1, n_tiles * d, c_in)
        products = torch.bmm(xt, self.weights)  # [tile + 2, n_tiles * d, c_out]
        y = (self.at @ products.view(m + TAPS - 1, -1)).view(m, n_tiles, d, -1).transpose(0, 1)
        if n == n_pad:
            out.view(n_tiles, m, d, -1).add_(y)
        else:
            out.add_(y.reshape(n_pad, -1)[:n])
