"""Pictures of a synthesis: the mel spectrogram and the attention alignment (needs matplotlib)."""

from __future__ import annotations

from pathlib import Path

import torch

from .errors import TTSError
from .fileio import atomic_output, check_writable


def check_plot_path(path: str | Path) -> None:
    """TTSError when a plot cannot be written to ``path`` (no matplotlib, not .png, folder missing or
    read-only): checked before synthesis, so a bad --plot costs nothing and leaves no audio behind."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise TTSError("--plot needs matplotlib: pip install 'tts-pipeline[plot]'") from None
    if Path(path).suffix.lower() != ".png":
        raise TTSError(f"plot file {path} must end in .png")
    check_writable(path)


def plot_synthesis(path: str | Path, mel: torch.Tensor, alignment: torch.Tensor | None, title: str = "") -> None:
    """Save a PNG with the mel [n_mels, T] on top and the alignment [T, n_tokens] below, atomically."""
    check_plot_path(path)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = 2 if alignment is not None else 1
    fig, axes = plt.subplots(rows, 1, figsize=(10, 3.2 * rows), squeeze=False)
    ax = axes[0][0]
    image = ax.imshow(mel.float().cpu().numpy(), origin="lower", aspect="auto", interpolation="none")
    ax.set(title=f"mel spectrogram {title}".strip(), xlabel="frame", ylabel="mel band")
    fig.colorbar(image, ax=ax)
    if alignment is not None:
        ax = axes[1][0]
        image = ax.imshow(alignment.float().cpu().numpy().T, origin="lower", aspect="auto", interpolation="none")
        ax.set(title="attention alignment", xlabel="decoder step (frame)", ylabel="text position (symbol)")
        fig.colorbar(image, ax=ax)
    fig.tight_layout()
    with atomic_output(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
