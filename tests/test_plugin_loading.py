"""Entry-point plugins as users install them: found through their distribution's metadata, a broken one
left out with a warning while everything else keeps working, and the example plugin in ``examples/``."""

import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tts_pipeline import plugins
from tts_pipeline.cli import cli
from tts_pipeline.errors import PluginError

from .test_cli import assert_user_error, run

EXAMPLE = Path(__file__).parents[1] / "examples" / "plugin-example"


class Site:
    """A folder on ``sys.path`` into which fake distributions are "installed" (module + .dist-info)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.modules: list[str] = []

    def install(self, dist: str, entry_points: dict[str, str], modules: dict[str, str] | None = None) -> None:
        """Write ``modules`` (name -> source) and a dist-info declaring ``entry_points`` (name -> target)."""
        for name, source in (modules or {}).items():
            (self.root / f"{name}.py").write_text(textwrap.dedent(source))
            self.modules.append(name)
        info = self.root / f"{dist.replace('-', '_')}-0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
        lines = "".join(f"{name} = {target}\n" for name, target in entry_points.items())
        (info / "entry_points.txt").write_text(f"[tts_pipeline]\n{lines}")
        plugins.reset()


@pytest.fixture
def site(tmp_path):
    root = tmp_path / "site"
    root.mkdir()
    sys.path.insert(0, str(root))
    commands = dict(cli.commands)
    fake = Site(root)
    try:
        yield fake
    finally:
        sys.path.remove(str(root))
        for name in [*fake.modules, "tts_pipeline_example", "tts_pipeline_example.plugin", "tts_pipeline_example.sine"]:
            sys.modules.pop(name, None)
        if str(EXAMPLE) in sys.path:
            sys.path.remove(str(EXAMPLE))
        cli.commands.clear()
        cli.commands.update(commands)
        plugins.reset()


def problems() -> list[str]:
    return [failure.describe() for failure in plugins.plugin_failures()]


def test_a_plugin_that_cannot_be_imported_is_left_out(site):
    site.install("broken-dist", {"broken": "broken_mod"}, {"broken_mod": "import not_a_module_anywhere\n"})
    registry = plugins.get_registry()
    assert {"waveglow", "griffin-lim"} <= set(registry.vocoders)  # everything else still loads
    assert problems() == [
        "plugin 'broken' (broken-dist 0.1) failed to load and is left out: "
        "ModuleNotFoundError: No module named 'not_a_module_anywhere'"
    ]
    assert "broken" not in {info.name for info in plugins.list_plugins()}
    with pytest.raises(PluginError, match=r"unknown vocoder 'hifigan'.*plugins that failed: broken"):
        registry.vocoder("hifigan")


def test_a_misspelt_hook_leaves_the_plugin_out(site):
    site.install(
        "typo-dist",
        {"typo": "typo_mod"},
        {
            "typo_mod": """
            from tts_pipeline import hookimpl

            @hookimpl
            def register_vocoder(register):  # missing 's'
                pass
            """
        },
    )
    assert "typo" not in {info.name for info in plugins.list_plugins()}
    [problem] = problems()
    assert problem.startswith("plugin 'typo' (typo-dist 0.1) failed to load") and "register_vocoder" in problem


BAD_HOOKS = """
from dataclasses import dataclass

from tts_pipeline import hookimpl
from tts_pipeline.audio.formats import MelFormat


@hookimpl
def register_vocoders(register):
    raise RuntimeError("weights server down")


@hookimpl
def register_mel_formats(register):
    register(MelFormat(name="good-format", n_mels=40))


@hookimpl
def register_acoustic_models(register):
    register(dict)


@hookimpl
def register_audio_processors(register):
    register("no-factory")
"""


def test_a_failing_or_wrong_hook_leaves_out_only_what_it_registers(site):
    site.install("bad-dist", {"bad": "bad_mod"}, {"bad_mod": BAD_HOOKS})
    registry = plugins.get_registry()
    assert registry.mel_format("good-format").n_mels == 40  # its working hook still counts
    assert "waveglow" in registry.vocoders and "tacotron2" in registry.acoustic_models
    found = problems()
    assert len(found) == 3, found
    assert (
        "failed in register_vocoders, so what it registers there is left out: RuntimeError: weights server down"
        in (found[0])
    )
    assert "register_acoustic_models" in found[1] and "not a subclass of AcousticModel" in found[1]
    assert "register_audio_processors" in found[2] and "called register with 1 arguments; it takes 2" in found[2]


def test_a_name_already_taken_stays_with_the_plugin_loaded_first(site):
    site.install(
        "rival-dist",
        {"rival": "rival_mod"},
        {
            "rival_mod": """
            from tts_pipeline import hookimpl
            from tts_pipeline.default_plugins.griffin_lim import GriffinLimVocoder

            class Impostor(GriffinLimVocoder):
                name = "waveglow"

            @hookimpl
            def register_vocoders(register):
                register(Impostor)
            """
        },
    )
    registry = plugins.get_registry()
    assert registry.vocoder("waveglow").__module__.startswith("tts_pipeline_waveglow")
    assert problems() == [
        "plugin 'rival' (rival-dist 0.1) registers the vocoder 'waveglow', which plugin 'waveglow' "
        "registered first; its own is left out"
    ]


def test_a_plugin_cannot_replace_a_command(site, caplog):
    site.install(
        "cmd-dist",
        {"cmd": "cmd_mod"},
        {
            "cmd_mod": """
            import click
            from tts_pipeline import hookimpl

            @hookimpl
            def register_commands(cli):
                cli.add_command(click.Command("say", callback=lambda: click.echo("hijacked")))
                cli.add_command(click.Command("hello", callback=lambda: click.echo("hello from a plugin")))
            """
        },
    )
    log = logging.getLogger("tts_pipeline.plugins")
    log.addHandler(caplog.handler)  # the command line's own handler may write to an earlier stderr
    try:
        code, out, _ = run("hello")
        assert (code, out) == (0, "hello from a plugin\n")
        assert "plugin 'cmd' (cmd-dist 0.1) tried to replace the command 'say'" in caplog.text
        code, out, _ = run("say", "--help")
        assert code == 0 and "hijacked" not in out
    finally:
        log.removeHandler(caplog.handler)
    assert "the command 'hello'" not in caplog.text  # its own command, added again by the second run
    assert cli.commands["say"].callback.__module__ == "tts_pipeline.cli.say"


def test_the_allow_list_loads_only_what_it_names_and_warns_about_the_rest(site, monkeypatch, caplog):
    site.install("broken-dist", {"broken": "broken_mod"}, {"broken_mod": "raise SystemError('never imported')\n"})
    monkeypatch.setenv(plugins.ALLOW_ENV, "waveglow, tacotro2")
    plugins.reset()
    with caplog.at_level("WARNING", logger="tts_pipeline.plugins"):
        names = {info.name for info in plugins.list_plugins()}
    assert "waveglow" in names and "tacotron2" not in names and "broken" not in names
    assert problems() == []  # the broken plugin was never imported
    assert "TTS_PIPELINE_LOAD_PLUGINS names 'tacotro2', which is not installed" in caplog.text


def test_a_broken_plugin_does_not_break_the_command_line(tmp_path, speech_clip):
    """As users meet it: a separate process, the plugin found through its metadata on PYTHONPATH."""
    site = Site(tmp_path)
    site.install("broken-dist", {"broken": "broken_mod"}, {"broken_mod": "1 / 0\n"})
    env = {"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"}
    mel = tmp_path / "speech.npy"
    result = subprocess.run(
        [sys.executable, "-m", "tts_pipeline", "mel", str(speech_clip), "-o", str(mel)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode == 0 and mel.is_file(), result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[0] == (
        "WARNING: plugin 'broken' (broken-dist 0.1) failed to load and is left out: ZeroDivisionError: "
        "division by zero (update or uninstall broken-dist, or leave it out with TTS_PIPELINE_LOAD_PLUGINS)"
    )
    listing = subprocess.run([sys.executable, "-m", "tts_pipeline", "plugins"], capture_output=True, text=True, env=env)
    assert listing.returncode == 0 and "Traceback" not in listing.stderr
    assert "problems:\n    plugin 'broken' (broken-dist 0.1) failed to load" in listing.stdout
    plugins.reset()


@pytest.fixture
def example_plugin(site):
    """The example plugin, "installed" as pip would: its package importable and its entry point declared."""
    sys.path.insert(0, str(EXAMPLE))
    site.install("tts-pipeline-example-plugin", {"example": "tts_pipeline_example.plugin"})


def test_example_plugin_is_listed_with_its_hooks(example_plugin):
    code, out, _ = run("plugins")
    assert code == 0
    assert "example 0.1: register_commands, register_vocoders" in out
    assert "vocoders: griffin-lim, sine, waveglow" in out


def test_example_sine_vocoder_whistles_the_loudest_band(example_plugin, tmp_path):
    from tts_pipeline_example.sine import band_centres

    mel = np.full((80, 40), -11.5, dtype=np.float32)
    mel[30] = 0.0  # one loud band, every frame
    np.save(tmp_path / "m.npy", mel)
    code, _, err = run("vocode", str(tmp_path / "m.npy"), "--vocoder", "sine", "-o", str(tmp_path / "m.wav"))
    assert code == 0, err
    audio, rate = sf.read(tmp_path / "m.wav")
    assert rate == 22050 and audio.shape == (40 * 256,)
    assert 0.25 < np.abs(audio).max() < 0.35  # the default amplitude, 0.3
    peak_hz = np.argmax(np.abs(np.fft.rfft(audio))) * rate / len(audio)
    assert abs(peak_hz - float(band_centres()[30])) < 5


def test_example_plugin_options_and_command(example_plugin, tmp_path):
    np.save(tmp_path / "m.npy", np.zeros((80, 86), dtype=np.float32))
    config = tmp_path / "loud.toml"
    config.write_text('[vocoder]\nname = "sine"\namplitude = 3\n')
    code, _, err = run("vocode", str(tmp_path / "m.npy"), "--config", str(config), "-o", str(tmp_path / "x.wav"))
    assert_user_error(code, err, "vocoder.amplitude must be above 0 and at most 1")
    assert not (tmp_path / "x.wav").exists()
    code, out, _ = run("mel-info", str(tmp_path / "m.npy"))
    assert (code, out) == (0, f"{tmp_path / 'm.npy'}: 80 bands x 86 frames, 1.00 s, values 0.00 to 0.00\n")
    code, _, err = run("mel-info", str(tmp_path / "missing.npy"))
    assert_user_error(code, err, "mel file not found")
