"""``python -m tts_pipeline`` runs the command line (also under torchrun)."""

from .cli import main

main()
