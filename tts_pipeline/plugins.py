"""The plugin manager: loads built-in hooks and entry-point plugins once, and the registry built from them.

Entry-point group ``tts_pipeline``. The environment variable ``TTS_PIPELINE_LOAD_PLUGINS`` restricts
which entry-point plugins load: a comma-separated list of entry-point names (empty: none).

A plugin that cannot be imported, implements a hook that does not exist, raises in a hook or registers
something that is not what the hook takes is left out with one warning that names it; the rest of the
toolkit, and every other plugin, keeps working (``tts-pipeline plugins`` lists what failed and why).
Plugins load in a fixed order: the core's own, then the bundled WaveGlow and Tacotron2 plugins, then
the rest by entry-point name; when two register the same name, the one loaded first keeps it.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

import pluggy

from . import hookspecs
from .audio.formats import MelFormat
from .errors import PluginError
from .stages import AcousticModel, AcousticModelType, AudioProcessorFactory, MelProcessorFactory, Vocoder, VocoderType

if TYPE_CHECKING:
    import click

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "tts_pipeline"
ALLOW_ENV = "TTS_PIPELINE_LOAD_PLUGINS"
BUNDLED_DISTRIBUTIONS = ("tts-pipeline-waveglow", "tts-pipeline-tacotron2")
DEFAULT_PLUGINS = ("tts_pipeline.default_plugins.mel_formats", "tts_pipeline.default_plugins.griffin_lim")


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that was left out: its name, where it comes from, and why."""

    name: str
    source: str  # the distribution and version ("tts-pipeline-foo 0.1"), or where the plugin lives
    problem: str  # "failed to load and is left out: ModuleNotFoundError: No module named 'foo'"

    def describe(self) -> str:
        return f"plugin {self.name!r} ({self.source}) {self.problem}"

    def warn(self) -> None:
        log.warning(
            "%s (update or uninstall %s, or leave it out with %s)",
            self.describe(),
            self.source.split(" ")[0],
            ALLOW_ENV,
        )


@dataclass
class _Loaded:
    """The plugin manager with what loading it found: each plugin's version, and the plugins left out."""

    pm: pluggy.PluginManager
    versions: dict[str, str] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    failures: list[PluginFailure] = field(default_factory=list)

    def add_entry_point(self, ep: importlib.metadata.EntryPoint) -> None:
        """Load and register one entry-point plugin; a plugin that fails is recorded and left out."""
        dist = getattr(ep, "dist", None)
        source = f"{dist.name} {dist.version}" if dist is not None else ep.value
        if self.pm.has_plugin(ep.name):
            self._fail(ep.name, source, f"another plugin named {ep.name!r} is already loaded")
            return
        try:
            plugin = ep.load()
            self.pm.register(plugin, name=ep.name)
        except Exception as exc:  # anything the foreign module raises must not take the toolkit down
            self._fail(ep.name, source, _error_line(exc))
            return
        try:
            self.pm.check_pending()  # a hook the contract does not have (a misspelt name)
        except pluggy.PluginValidationError as exc:
            self.pm.unregister(name=ep.name)
            self._fail(ep.name, source, _error_line(exc))
            return
        self.sources[ep.name] = source
        if dist is not None:
            self.versions[ep.name] = dist.version

    def source(self, name: str) -> str:
        """Where the plugin registered as ``name`` comes from (its distribution, or its name)."""
        return self.sources.get(name, name)

    def _fail(self, name: str, source: str, error: str) -> None:
        failure = PluginFailure(name=name, source=source, problem=f"failed to load and is left out: {error}")
        self.failures.append(failure)
        failure.warn()


def _error_line(exc: BaseException) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())


def _load_order(ep: importlib.metadata.EntryPoint) -> tuple[bool, str]:
    """The bundled plugins first, then the others by name (the order installation left is arbitrary)."""
    dist = getattr(ep, "dist", None)
    return (dist is None or dist.name not in BUNDLED_DISTRIBUTIONS, ep.name)


def _entry_points() -> list[importlib.metadata.EntryPoint]:
    """The installed entry points of the group, restricted by ``TTS_PIPELINE_LOAD_PLUGINS`` when set."""
    found = sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=_load_order)
    allowed = os.environ.get(ALLOW_ENV)
    if allowed is None:
        return found
    wanted = {name.strip() for name in allowed.split(",") if name.strip()}
    missing = wanted - {ep.name for ep in found}
    if missing:
        installed = ", ".join(sorted({ep.name for ep in found})) or "none"
        log.warning(
            "%s names %s, which %s not installed (installed plugins: %s)",
            ALLOW_ENV,
            ", ".join(repr(name) for name in sorted(missing)),
            "is" if len(missing) == 1 else "are",
            installed,
        )
    return [ep for ep in found if ep.name in wanted]


@lru_cache(maxsize=1)
def _load() -> _Loaded:
    pm = pluggy.PluginManager("tts_pipeline")
    pm.add_hookspecs(hookspecs)
    for module_name in DEFAULT_PLUGINS:
        pm.register(importlib.import_module(module_name), name=module_name)
    pm.check_pending()
    loaded = _Loaded(pm)
    for ep in _entry_points():
        loaded.add_entry_point(ep)
    return loaded


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, built on first use."""
    return _load().pm


def _named(name: object, what: str) -> str:
    if not isinstance(name, str) or not name:
        raise PluginError(f"registered a {what} whose name is {name!r}, not a non-empty str")
    return name


def _arguments(args: tuple, count: int) -> tuple:
    if len(args) != count:
        raise PluginError(f"called register with {len(args)} arguments; it takes {count}")
    return args


def _subclass_of(base: type, what: str) -> Callable[[tuple], tuple[str, object]]:
    def check(args: tuple) -> tuple[str, object]:
        (cls,) = _arguments(args, 1)
        if not (isinstance(cls, type) and issubclass(cls, base)):
            raise PluginError(f"registered {cls!r} as a {what}, which is not a subclass of {base.__name__}")
        return _named(getattr(cls, "name", None), what), cls

    return check


def _trainer(args: tuple) -> tuple[str, object]:
    from .training.task import TrainTask  # torch's training machinery only when a plugin registers one

    return _subclass_of(TrainTask, "trainer")(args)


def _mel_format(args: tuple) -> tuple[str, object]:
    (fmt,) = _arguments(args, 1)
    if not isinstance(fmt, MelFormat):
        raise PluginError(f"registered {fmt!r} as a mel format, which is not a MelFormat")
    return _named(fmt.name, "mel format"), fmt


def _processor(what: str) -> Callable[[tuple], tuple[str, object]]:
    def check(args: tuple) -> tuple[str, object]:
        name, factory = _arguments(args, 2)
        if not callable(factory):
            raise PluginError(f"registered the {what} {name!r} with {factory!r}, which is not callable")
        return _named(name, what), factory

    return check


@dataclass(frozen=True)
class _Hook:
    """One ``register_*`` hook: the registry table it fills and how a registration is checked."""

    name: str
    table: str
    what: str
    check: Callable[[tuple], tuple[str, object]]


_HOOKS = (
    _Hook("register_vocoders", "vocoders", "vocoder", _subclass_of(Vocoder, "vocoder")),
    _Hook(
        "register_acoustic_models", "acoustic_models", "acoustic model", _subclass_of(AcousticModel, "acoustic model")
    ),
    _Hook("register_mel_formats", "mel_formats", "mel format", _mel_format),
    _Hook("register_mel_processors", "mel_processors", "mel processor", _processor("mel processor")),
    _Hook("register_audio_processors", "audio_processors", "audio processor", _processor("audio processor")),
    _Hook("register_trainers", "trainers", "trainer", _trainer),
)


@dataclass
class Registry:
    """Everything the plugins registered, by name, and the plugins (or registrations) left out."""

    vocoders: dict[str, VocoderType] = field(default_factory=dict)
    acoustic_models: dict[str, AcousticModelType] = field(default_factory=dict)
    mel_formats: dict[str, MelFormat] = field(default_factory=dict)
    mel_processors: dict[str, MelProcessorFactory] = field(default_factory=dict)
    audio_processors: dict[str, AudioProcessorFactory] = field(default_factory=dict)
    trainers: dict[str, type] = field(default_factory=dict)
    failures: list[PluginFailure] = field(default_factory=list)

    def vocoder(self, name: str) -> VocoderType:
        return self._lookup(self.vocoders, name, "vocoder", "--vocoder")

    def acoustic_model(self, name: str) -> AcousticModelType:
        return self._lookup(self.acoustic_models, name, "acoustic model", "--acoustic")

    def mel_format(self, name: str) -> MelFormat:
        return self._lookup(self.mel_formats, name, "mel format", "--mel-format")

    def trainer(self, name: str) -> type:
        return self._lookup(self.trainers, name, "trainable model", "tts-pipeline train MODEL")

    def _lookup(self, table: dict, name: str, what: str, flag: str):
        if not isinstance(name, str):
            raise PluginError(f"a {what} is named by a str, not {type(name).__name__} (see tts-pipeline plugins)")
        try:
            return table[name]
        except KeyError:
            known = ", ".join(sorted(table)) or "none installed"
            failed = sorted({failure.name for failure in plugin_failures()})
            also = f"; plugins that failed: {', '.join(failed)} (see tts-pipeline plugins)" if failed else ""
            raise PluginError(
                f"unknown {what} {name!r}; installed: {known}{also} (pick one with {flag}, or install its plugin)"
            ) from None


def _call(impl: pluggy.HookImpl, **kwargs: object) -> None:
    """Call one plugin's implementation of a hook with the arguments it asks for."""
    impl.function(**{name: kwargs[name] for name in impl.argnames})


def _recorder(calls: list[tuple]) -> Callable[..., None]:
    """A ``register`` callback that keeps its arguments, to be checked after the plugin's hook returns."""
    return lambda *args: calls.append(args)


def _fill(registry: Registry, hook: _Hook, loaded: _Loaded, owners: dict[tuple[str, str], str]) -> None:
    """Call each plugin's ``hook`` in load order, checking what it registers; a failing plugin is left out."""
    table = getattr(registry, hook.table)
    for impl in getattr(loaded.pm.hook, hook.name).get_hookimpls():
        plugin, source = impl.plugin_name, loaded.source(impl.plugin_name)
        calls: list[tuple] = []
        try:
            _call(impl, register=_recorder(calls))
            entries = [hook.check(args) for args in calls]
        except Exception as exc:  # a plugin's own bug: leave what this hook registers out, keep the rest
            problem = f"failed in {hook.name}, so what it registers there is left out: {_error_line(exc)}"
            registry.failures.append(PluginFailure(plugin, source, problem))
            registry.failures[-1].warn()
            continue
        for name, value in entries:
            first = owners.setdefault((hook.table, name), plugin)
            if first != plugin or name in table:
                problem = (
                    f"registers the {hook.what} {name!r}, which plugin {first!r} registered first; its own is left out"
                )
                registry.failures.append(PluginFailure(plugin, source, problem))
                registry.failures[-1].warn()
                continue
            table[name] = value


@lru_cache(maxsize=1)
def get_registry() -> Registry:
    """The registry built from every loaded plugin's ``register_*`` hooks (cached)."""
    loaded, registry, owners = _load(), Registry(), {}
    for hook in _HOOKS:
        _fill(registry, hook, loaded, owners)
    return registry


def plugin_failures() -> list[PluginFailure]:
    """The plugins left out whole (they failed to load) or in part (a hook failed, a name was taken)."""
    return [*_load().failures, *get_registry().failures]


def add_plugin_commands(group: click.Group, keep: Mapping[str, click.Command]) -> None:
    """Let each plugin add commands to ``group`` through ``register_commands``; a plugin that fails is left
    out with a warning, and one that replaces a command of ``keep`` (the built-in ones) has that undone."""
    loaded = _load()
    for impl in loaded.pm.hook.register_commands.get_hookimpls():
        try:
            _call(impl, cli=group)
        except Exception as exc:
            problem = f"failed in register_commands, so its commands may be missing: {_error_line(exc)}"
            PluginFailure(impl.plugin_name, loaded.source(impl.plugin_name), problem).warn()
        for name, command in keep.items():
            if group.commands.get(name) is not command:
                group.commands[name] = command
                problem = f"tried to replace the command {name!r}, which is kept as it was"
                PluginFailure(impl.plugin_name, loaded.source(impl.plugin_name), problem).warn()


@dataclass
class PluginInfo:
    name: str
    hooks: list[str]
    version: str | None


def list_plugins() -> list[PluginInfo]:
    """Loaded plugins with the hooks each implements (for ``tts-pipeline plugins``)."""
    loaded = _load()
    out = []
    for name, plugin in loaded.pm.list_name_plugin():
        hooks = sorted(impl.name for impl in loaded.pm.get_hookcallers(plugin) or [])
        out.append(PluginInfo(name=name, hooks=hooks, version=loaded.versions.get(name)))
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
    _load.cache_clear()


__all__ = [
    "ENTRY_POINT_GROUP",
    "PluginFailure",
    "PluginInfo",
    "Registry",
    "add_plugin_commands",
    "get_plugin_manager",
    "get_registry",
    "list_plugins",
    "plugin_failures",
    "plugin_registered",
    "reset",
]
