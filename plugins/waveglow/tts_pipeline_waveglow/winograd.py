"""Winograd F(4, 3) for WaveGlow's dilated kernel-3 convolutions, in time-major layout.

A kernel-3 convolution computes y[t] = W0 h[t - d] + W1 h[t] + W2 h[t + d]. Winograd's minimal filtering
algorithm F(4, 3) (Lavin and Gray 2015) produces four outputs spaced d apart from six inputs with six matrix
products instead of twelve, halving the arithmetic of the dilated convs. The transforms below use the
interpolation points 0, +-1, +-2 and infinity; in float32 they add errors near 1e-6 relative.
"""

from __future__ import annotations

import torch

# input transform B^T [6, 6], filter transform G [6, 3], output transform A^T [4, 6]
_BT = (
    (4, 0, -5, 0, 1, 0),
    (0, -4, -4, 1, 1, 0),
    (0, 4, -4, -1, 1, 0),
    (0, -2, -1, 2, 1, 0),
    (0, 2, -1, -2, 1, 0),
    (0, 4, 0, -5, 0, 1),
)
_G = (
    (1 / 4, 0, 0),
    (-1 / 6, -1 / 6, -1 / 6),
    (-1 / 6, 1 / 6, -1 / 6),
    (1 / 24, 1 / 12, 1 / 6),
    (1 / 24, -1 / 12, 1 / 6),
    (0, 0, 1),
)
_AT = (
    (1, 1, 1, 1, 1, 0),
    (0, 1, -1, 2, -2, 0),
    (0, 1, 1, 4, 4, 0),
    (0, 1, -1, 8, -8, 1),
)
TILE = 4  # outputs per tile
TAPS = 3  # kernel size


def winograd_weights(taps: torch.Tensor) -> torch.Tensor:
    """Transform conv taps [3, c_in, c_out] (tap j multiplies h[t + (j - 1) d]) into [6, c_in, c_out]."""
    g = torch.tensor(_G, dtype=torch.float64, device=taps.device)
    return torch.einsum("jk,kab->jab", g, taps.double()).to(taps.dtype).contiguous()


class WinogradConv:
    """Applies one transformed kernel-3 conv of dilation d to row ranges of a zero-padded time-major buffer."""

    def __init__(self, weights: torch.Tensor, dilation: int) -> None:
        self.weights = weights  # [6, c_in, c_out]
        self.dilation = dilation
        self.bt = torch.tensor(_BT, dtype=weights.dtype, device=weights.device)
        self.at = torch.tensor(_AT, dtype=weights.dtype, device=weights.device)

    def rows(self, n: int) -> int:
        """Rows actually computed for n requested outputs (a whole number of tiles of 4 d rows)."""
        block = TILE * self.dilation
        return -(-n // block) * block

    def add_to(self, out: torch.Tensor, buf: torch.Tensor, row: int) -> None:
        """out[r] += conv(h)[row + r] for r < len(out), where h[t] = buf[t] (buf is zero outside the signal).

        ``buf`` [rows, c_in] must be contiguous and hold zeros for at least ``dilation`` rows before ``row``
        and ``rows(len(out)) - len(out) + 3 * dilation`` rows after ``row + len(out)`` outside the signal.
        """
        n, d = out.shape[0], self.dilation
        n_pad = self.rows(n)
        n_tiles = n_pad // (TILE * d)
        c_in = buf.shape[1]
        # tile b, input i, residue r: buf[row - d + 4 d b + i d + r] (overlapping windows, no copy)
        x = buf.as_strided(
            (TAPS + TILE - 1, n_tiles, d, c_in),
            (d * c_in, TILE * d * c_in, c_in, 1),
            buf.storage_offset() + (row - d) * c_in,
        )
        xt = (self.bt @ x.reshape(TAPS + TILE - 1, -1)).view(TAPS + TILE - 1, n_tiles * d, c_in)
        m = torch.bmm(xt, self.weights)  # [6, n_tiles * d, c_out]
        y = (self.at @ m.view(TAPS + TILE - 1, -1)).view(TILE, n_tiles, d, -1).transpose(0, 1)
        if n == n_pad:
            out.view(n_tiles, TILE, d, -1).add_(y)
        else:
            out.add_(y.reshape(n_pad, -1)[:n])
