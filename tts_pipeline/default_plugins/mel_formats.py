"""Registers the core's mel format presets."""

from ..audio.formats import PRESETS
from ..hookspecs import hookimpl


@hookimpl
def register_mel_formats(register):
    for fmt in PRESETS:
        register(fmt)
