"""The plugin manager: loads built-in hooks and entry-point plugins once, and the registry built from them.

Entry-point group ``tts_pipeline``. The environment variable ``TTS_PIPELINE_LOAD_PLUGINS`` restricts
which entry-point plugins load: a comma-separated list of entry-point names (empty: none).
"""

from __future__ import annotations

import importlib.metadata
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache

import pluggy

from . import hookspecs
from .audio.formats import MelFormat
from .errors import PluginError
from .stages import AcousticModelType, AudioProcessorFactory, MelProcessorFactory, VocoderType

ENTRY_POINT_GROUP = "tts_pipeline"
DEFAULT_PLUGINS = ("tts_pipeline.default_plugins.mel_formats", "tts_pipeline.default_plugins.griffin_lim")


@lru_cache(maxsize=1)
def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, built on first use."""
    pm = pluggy.PluginManager("tts_pipeline")
    pm.add_hookspecs(hookspecs)
    for module_name in DEFAULT_PLUGINS:
        module = importlib.import_module(module_name)
        pm.register(module, name=module_name)
    allowed = os.environ.get("TTS_PIPELINE_LOAD_PLUGINS")
    if allowed is None:
        pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    else:
        wanted = {name.strip() for name in allowed.split(",") if name.strip()}
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            if ep.name in wanted and not pm.has_plugin(ep.name):
                pm.register(ep.load(), name=ep.name)
    pm.check_pending()
    return pm


@dataclass
class Registry:
    """Everything the plugins registered, by name."""

    vocoders: dict[str, VocoderType] = field(default_factory=dict)
    acoustic_models: dict[str, AcousticModelType] = field(default_factory=dict)
    mel_formats: dict[str, MelFormat] = field(default_factory=dict)
    mel_processors: dict[str, MelProcessorFactory] = field(default_factory=dict)
    audio_processors: dict[str, AudioProcessorFactory] = field(default_factory=dict)
    trainers: dict[str, type] = field(default_factory=dict)

    def vocoder(self, name: str) -> VocoderType:
        return _lookup(self.vocoders, name, "vocoder", "--vocoder")

    def acoustic_model(self, name: str) -> AcousticModelType:
        return _lookup(self.acoustic_models, name, "acoustic model", "--acoustic")

    def mel_format(self, name: str) -> MelFormat:
        return _lookup(self.mel_formats, name, "mel format", "--mel-format")

    def trainer(self, name: str) -> type:
        return _lookup(self.trainers, name, "trainable model", "tts-pipeline train MODEL")


def _lookup(table: dict, name: str, what: str, flag: str):
    if not isinstance(name, str):
        raise PluginError(f"a {what} is named by a str, not {type(name).__name__} (see tts-pipeline plugins)")
    try:
        return table[name]
    except KeyError:
        known = ", ".join(sorted(table)) or "none installed"
        raise PluginError(
            f"unknown {what} {name!r}; installed: {known} (pick one with {flag}, or install its plugin)"
        ) from None


def _adder(table: dict, what: str, key=lambda item: item.name):
    def add(item, *rest):
        name = key(item) if not rest else item
        value = item if not rest else rest[0]
        if name in table:
            raise PluginError(f"two plugins register the {what} {name!r}; uninstall one of them")
        table[name] = value

    return add


@lru_cache(maxsize=1)
def get_registry() -> Registry:
    """The registry built from every loaded plugin's ``register_*`` hooks (cached)."""
    hook = get_plugin_manager().hook
    reg = Registry()
    hook.register_vocoders(register=_adder(reg.vocoders, "vocoder"))
    hook.register_acoustic_models(register=_adder(reg.acoustic_models, "acoustic model"))
    hook.register_mel_formats(register=_adder(reg.mel_formats, "mel format"))
    hook.register_mel_processors(register=_adder(reg.mel_processors, "mel processor"))
    hook.register_audio_processors(register=_adder(reg.audio_processors, "audio processor"))
    hook.register_trainers(register=_adder(reg.trainers, "trainer"))
    return reg


@dataclass
class PluginInfo:
    name: str
    hooks: list[str]
    version: str | None


def list_plugins() -> list[PluginInfo]:
    """Loaded plugins with the hooks each implements (for ``tts-pipeline plugins``)."""
    pm = get_plugin_manager()
    dists = {id(plugin): dist for plugin, dist in pm.list_plugin_distinfo()}
    out = []
    for name, plugin in pm.list_name_plugin():
        hooks = sorted(impl.name for impl in pm.get_hookcallers(plugin) or [])
        dist = dists.get(id(plugin))
        out.append(PluginInfo(name=name, hooks=hooks, version=dist.version if dist else None))
    return sorted(out, key=lambda p: p.name)


@contextmanager
def plugin_registered(plugin: object, name: str | None = None) -> Iterator[None]:
    """Register ``plugin`` (a module or object with hookimpls) for the duration of a ``with`` block."""
    pm = get_plugin_manager()
    pm.register(plugin, name=name)
    get_registry.cache_clear()
    try:
        yield
    finally:
        pm.unregister(plugin)
        get_registry.cache_clear()


def reset() -> None:
    """Forget the loaded plugins and registry; the next use loads them again."""
    get_registry.cache_clear()
    get_plugin_manager.cache_clear()


__all__ = [
    "ENTRY_POINT_GROUP",
    "PluginInfo",
    "Registry",
    "get_plugin_manager",
    "get_registry",
    "list_plugins",
    "plugin_registered",
    "reset",
]
