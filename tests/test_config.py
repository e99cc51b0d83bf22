"""Pipeline config: files, dicts, validation errors naming the key."""

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest

from tts_pipeline.config import load_config, parse_options
from tts_pipeline.errors import ConfigError

TOML = """
[acoustic]
name = "tacotron2"
checkpoint = "t2.pt"

[vocoder]
name = "waveglow"
checkpoint = "wg.pt"
sigma = 0.7

[runtime]
device = "cpu"
seed = 3
"""


def test_toml_file_resolves_paths_against_its_folder(tmp_path):
    path = tmp_path / "pipeline.toml"
    path.write_text(TOML)
    config = load_config(path)
    assert config.acoustic.name == "tacotron2"
    assert config.acoustic.checkpoint == tmp_path / "t2.pt"
    assert config.vocoder.checkpoint == tmp_path / "wg.pt"
    assert config.vocoder.options == {"sigma": 0.7}
    assert config.runtime.device == "cpu" and config.runtime.seed == 3


def test_json_and_dict_give_the_same_config(tmp_path):
    data = {"vocoder": {"name": "waveglow", "checkpoint": "/abs/wg.pt", "sigma": 0.6}, "runtime": {"dtype": "fp32"}}
    path = tmp_path / "p.json"
    import json

    path.write_text(json.dumps(data))
    assert load_config(path) == load_config(data)
    assert load_config(data).vocoder.checkpoint == Path("/abs/wg.pt")


def test_empty_config_defaults_to_waveglow():
    config = load_config({})
    assert config.vocoder.name == "waveglow" and config.acoustic is None
    assert config.runtime.device == "auto"


@pytest.mark.parametrize(
    "data, needle",
    [
        ({"vocodr": {}}, "'vocodr'"),
        ({"runtime": {"devise": "cpu"}}, "runtime.devise"),
        ({"runtime": {"device": "tpu"}}, "runtime.device"),
        ({"runtime": {"dtype": "fp8"}}, "runtime.dtype"),
        ({"runtime": {"seed": "x"}}, "runtime.seed"),
        ({"acoustic": {"checkpoint": "a.pt"}}, "'name'"),
        ({"vocoder": "waveglow"}, "'vocoder'"),
        ({"vocoder": {"name": "waveglow", "checkpoint": 3}}, "vocoder.checkpoint"),
    ],
)
def test_bad_config_names_the_key(data, needle):
    with pytest.raises(ConfigError, match=needle.replace(".", r"\.")):
        load_config(data)


def test_bad_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[vocoder\nname=")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


@dataclass
class _Options:
    sigma: float = 0.5
    mode: Literal["a", "b"] = "a"
    steps: int | None = None
    flag: bool = False


def test_parse_options_checks_types():
    opts = parse_options(_Options, {"sigma": 1, "mode": "b", "steps": 4, "flag": True}, "vocoder")
    assert opts == _Options(sigma=1.0, mode="b", steps=4, flag=True)
    assert isinstance(opts.sigma, float)
    for bad, needle in [
        ({"sigma": "x"}, "vocoder.sigma"),
        ({"mode": "c"}, "vocoder.mode"),
        ({"steps": 1.5}, "vocoder.steps"),
        ({"flag": 1}, "vocoder.flag"),
        ({"colour": 1}, "unknown option vocoder.colour"),
    ]:
        with pytest.raises(ConfigError, match=needle):
            parse_options(_Options, bad, "vocoder")


def test_file_options_are_read_from_the_config_folder(tmp_path, tiny_tacotron2_file, monkeypatch):
    from tts_pipeline.pipeline import Pipeline

    folder = tmp_path / "voice"
    folder.mkdir()
    (folder / "my.dict").write_text("HELLO  HH AH0 L OW1\n")
    (folder / "p.toml").write_text(
        f'voice = "none"\n[acoustic]\nname = "tacotron2"\ncheckpoint = "{tiny_tacotron2_file}"\ncmudict = "my.dict"\n'
        '[vocoder]\nname = "griffin-lim"\n'
    )
    monkeypatch.chdir(tmp_path)  # not the config's folder
    pipeline = Pipeline.from_config(folder / "p.toml")
    assert pipeline.acoustic.options.cmudict == str(folder / "my.dict")
    # a keyword is left as it is, and so is an option given in code
    bundled = Pipeline.from_config(
        {
            "voice": "none",
            "acoustic": {"name": "tacotron2", "checkpoint": str(tiny_tacotron2_file), "cmudict": "bundled"},
            "vocoder": {"name": "griffin-lim"},
        }
    )
    assert bundled.acoustic.options.cmudict == "bundled"


def test_seed_range():
    with pytest.raises(ConfigError, match="seed must lie between"):
        load_config({"runtime": {"seed": 2**64}})
    with pytest.raises(ConfigError, match="seed must lie between"):
        load_config({"runtime": {"seed": -1}})
    assert load_config({"runtime": {"seed": 2**63 - 1}}).runtime.seed == 2**63 - 1


def test_a_float_option_given_a_huge_integer():
    @dataclass
    class Options:
        rate: float = 1.0

    with pytest.raises(ConfigError, match="rate is too large"):
        parse_options(Options, {"rate": 10**400}, "x")


@pytest.mark.parametrize(
    "source, needle",
    [
        ([{"vocoder": {}}], "not list"),
        (42, "not int"),
        (b"p.toml", "not bytes"),
        ({"acoustic": ""}, "'acoustic' must be a table"),
        ({"acoustic": False}, "'acoustic' must be a table"),
        ({1: {}, "x": {}}, "unknown config section 1"),
    ],
)
def test_config_sources_of_the_wrong_shape(source, needle):
    from tts_pipeline.pipeline import Pipeline

    with pytest.raises(ConfigError, match=needle):
        Pipeline.from_config(source)


def test_pipeline_wants_a_pipeline_config():
    from tts_pipeline.pipeline import Pipeline

    with pytest.raises(ConfigError, match=r"takes a PipelineConfig, not dict: .*Pipeline.from_config"):
        Pipeline({"vocoder": {"name": "griffin-lim"}})


def test_a_config_path_under_home_is_expanded(tmp_path, monkeypatch):
    from tts_pipeline.audio.format_files import resolve_format

    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "p.toml").write_text('voice = "none"\n[vocoder]\nname = "griffin-lim"\n')
    (tmp_path / "fmt.toml").write_text("hop_length = 200\n")
    assert load_config("~/p.toml").vocoder.name == "griffin-lim"
    assert resolve_format("~/fmt.toml", {}).hop_length == 200


def test_a_config_with_a_byte_order_mark_or_given_as_its_folder(tmp_path):
    (tmp_path / "p.toml").write_text('\ufeffvoice = "none"\n[vocoder]\nname = "griffin-lim"\n', encoding="utf-8")
    assert load_config(tmp_path / "p.toml").vocoder.name == "griffin-lim"
    with pytest.raises(ConfigError, match="is a folder: give the .toml/.json file in it"):
        load_config(tmp_path)
