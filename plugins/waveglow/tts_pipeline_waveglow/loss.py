"""WaveGlow's training objective: the negative log-likelihood of audio under the flow."""

from __future__ import annotations

import torch

from .model import WaveGlowOutput


def waveglow_loss(output: WaveGlowOutput, sigma: float = 1.0) -> torch.Tensor:
    """Mean negative log-likelihood per audio sample (up to the constant of the Gaussian).

    [sum(z^2) / (2 sigma^2) - sum(log s) - sum_k B * T' * log|det W_k|] / (B * n_group * T'),
    with z [B, n_group, T'] from :meth:`WaveGlow.forward`.
    """
    z = output.z.float()
    b, n_group, steps = z.shape
    log_s_total = sum(log_s.float().sum() for log_s in output.log_s)
    log_det_total = sum(log_det.float() for log_det in output.log_det_w) * (b * steps)
    nll = (z * z).sum() / (2 * sigma**2) - log_s_total - log_det_total
    return nll / (b * n_group * steps)
