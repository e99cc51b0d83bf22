"""The plugin manager and registry: built-in plugins, fake plugins in fixtures, documented hooks."""

import inspect
from dataclasses import dataclass

import pytest
import torch

from tts_pipeline import hookimpl, hookspecs
from tts_pipeline.audio.formats import NVIDIA, MelFormat
from tts_pipeline.errors import PluginError
from tts_pipeline.pipeline import Pipeline
from tts_pipeline.plugins import get_plugin_manager, get_registry, list_plugins, plugin_registered
from tts_pipeline.stages import Vocoder


@dataclass
class EchoOptions:
    gain: float = 1.0


class EchoVocoder(Vocoder):
    """A fake vocoder: every mel frame becomes hop_length samples of its mean value times gain."""

    name = "echo"
    Options = EchoOptions

    def __init__(self, options):
        self.options = options
        self.mel_format = NVIDIA
        self.sample_rate = 22050

    @classmethod
    def load(cls, checkpoint, options, device, dtype):
        return cls(options)

    def vocode(self, mel, generator=None):
        return (mel.mean(dim=1).repeat_interleave(256, dim=-1) * self.options.gain).cpu()


class FakePlugin:
    @hookimpl
    def register_vocoders(self, register):
        register(EchoVocoder)

    @hookimpl
    def register_mel_formats(self, register):
        register(MelFormat(name="fake-format", n_mels=4))

    @hookimpl
    def register_audio_processors(self, register):
        register("halve", lambda ctx: (lambda audio: audio / 2) if ctx.vocoder.name == "echo" else None)


@pytest.fixture
def fake_plugin():
    with plugin_registered(FakePlugin(), name="fake"):
        yield


def test_builtin_plugins_are_loaded():
    names = {p.name for p in list_plugins()}
    assert {"waveglow", "tacotron2"} <= names
    assert "nvidia" in get_registry().mel_formats
    assert "waveglow" in get_registry().vocoders


def test_fake_plugin_registers_and_is_removed(fake_plugin):
    registry = get_registry()
    assert registry.vocoder("echo") is EchoVocoder
    assert registry.mel_format("fake-format").n_mels == 4
    pipeline = Pipeline.from_config({"vocoder": {"name": "echo", "gain": 4.0}, "runtime": {"device": "cpu"}})
    audio = pipeline.vocode(torch.full((80, 3), -2.0))
    assert audio.samples.shape == (768,)
    # gain 4 times -2, then halved by the fake audio processor
    assert torch.allclose(audio.samples, torch.full((768,), -4.0))


def test_fake_plugin_gone_after_fixture():
    assert "echo" not in get_registry().vocoders


def test_unknown_names_are_plugin_errors(fake_plugin):
    with pytest.raises(PluginError, match="unknown vocoder 'nope'.*echo"):
        Pipeline.from_config({"vocoder": {"name": "nope"}})
    with pytest.raises(PluginError, match="unknown mel format"):
        get_registry().mel_format("nope")
    with pytest.raises(PluginError, match="a vocoder is named by a str, not list"):
        get_registry().vocoder(["waveglow"])


def test_a_name_registered_twice_stays_with_the_first_plugin(fake_plugin):
    class Echo2(EchoVocoder):
        pass

    class Again:
        @hookimpl
        def register_vocoders(self, register):
            register(Echo2)

    with plugin_registered(Again(), name="again"):
        registry = get_registry()
        assert registry.vocoder("echo") is EchoVocoder
        [failure] = registry.failures
        assert failure.describe() == (
            "plugin 'again' (again) registers the vocoder 'echo', which plugin 'fake' registered first; "
            "its own is left out"
        )


def test_misspelt_hook_fails_loudly():
    class Typo:
        @hookimpl
        def register_vocoder(self, register):  # missing 's'
            pass

    pm = get_plugin_manager()
    pm.register(Typo(), name="typo")
    try:
        with pytest.raises(Exception, match="register_vocoder"):
            pm.check_pending()
    finally:
        pm.unregister(name="typo")


def test_every_hook_is_documented_with_its_arguments():
    hooks = [f for name, f in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("register_")]
    assert len(hooks) == 7
    for hook in hooks:
        doc = inspect.getdoc(hook)
        assert doc, hook.__name__
        for arg in inspect.signature(hook).parameters:
            assert arg in doc, f"{hook.__name__} does not document {arg}"
