"""Refresh a voice's checksums (voice.toml and the MODEL_CARD.md table) after new weights are dropped in.

python tools/update_voice.py tts_pipeline/voices/joe-lj-demo
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from tts_pipeline.fileio import atomic_output
from tts_pipeline.voices import read_voice, sha256_file

CARD_BLOCK = re.compile(r"<!-- checksums -->.*?<!-- /checksums -->", re.S)


def write_text(path: Path, text: str) -> None:
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def update(folder: Path) -> dict[str, str]:
    """Rewrite the sha256 of each model file in ``folder``'s manifest and card; returns file -> sha256."""
    voice = read_voice(folder)
    sums = {stage.file.name: sha256_file(stage.file) for stage in (voice.acoustic, voice.vocoder)}
    manifest = (folder / "voice.toml").read_text(encoding="utf-8")
    for name, digest in sums.items():
        manifest = re.sub(rf'(file = "{re.escape(name)}"\nsha256 = ")[0-9a-f]*(")', rf"\g<1>{digest}\g<2>", manifest)
    write_text(folder / "voice.toml", manifest)
    rows = "".join(f"| {name} | {digest} |\n" for name, digest in sums.items())
    block = f"<!-- checksums -->\n| file | sha256 |\n| --- | --- |\n{rows}<!-- /checksums -->"
    card = voice.card.read_text(encoding="utf-8")
    if not CARD_BLOCK.search(card):
        raise SystemExit(f"error: {voice.card} has no <!-- checksums --> block to update")
    write_text(voice.card, CARD_BLOCK.sub(block, card))
    return sums


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="the voice's folder (holding voice.toml)")
    for name, digest in update(parser.parse_args().folder).items():
        print(f"{name}: {digest}")


if __name__ == "__main__":
    main()
