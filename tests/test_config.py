"""Typed configuration: the design's constants, presets, oneiro.toml and the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

import oneiro
from oneiro.config import CONFIG_FILE_ENV, PRESETS, STATE_DIR_ENV, load_config, to_dict
from oneiro.errors import (
    BackendError,
    ConfigError,
    CycleError,
    InvalidInput,
    JournalCorrupt,
    OneiroError,
    StoreError,
)


def write_toml(root: Path, text: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    path = root / "oneiro.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_public_api_has_one_error_root_and_open() -> None:
    for leaf in (ConfigError, InvalidInput, StoreError, BackendError, CycleError, JournalCorrupt):
        assert issubclass(leaf, oneiro.OneiroError)
    assert oneiro.OneiroError is OneiroError
    with oneiro.open(":memory:", embedder="hashing") as memory:
        assert isinstance(memory, oneiro.Memory)


def test_defaults_are_the_constants_of_the_design(tmp_path: Path) -> None:
    config = load_config(tmp_path)
    lc = config.lifecycle
    assert lc.confidence_floor == 0.3
    assert lc.hypothesis_confidence == 0.2
    assert lc.validated_confidence == 0.5
    assert lc.confirm_window_days == 7.0
    assert lc.expiry_days == 14.0
    assert lc.confirmations_needed == 3
    assert config.scheduler.budget_fraction == 0.15
    assert config.scheduler.importance_threshold == 150.0
    assert config.recall.rrf_k == 60


def test_toml_overrides_defaults_with_types_kept(tmp_path: Path) -> None:
    write_toml(
        tmp_path, '[lifecycle]\nconfidence_floor = 0.4\nexpiry_days = 10\n[embedder]\nname = "hashing"\n'
    )
    config = load_config(tmp_path)
    assert config.lifecycle.confidence_floor == 0.4
    assert config.lifecycle.expiry_days == 10.0
    assert isinstance(config.lifecycle.expiry_days, float)
    assert config.embedder.name == "hashing"
    assert config.lifecycle.validated_confidence == 0.5


@pytest.mark.parametrize(
    ("toml", "needle"),
    [
        ("[lifecycle]\nconfidence_flor = 0.4\n", "lifecycle.confidence_flor"),
        ("[nonsense]\nx = 1\n", "nonsense"),
        ("top_level_typo = 1\n", "top_level_typo"),
        ('[lifecycle]\nconfidence_floor = "0.3"\n', "lifecycle.confidence_floor"),
        ("[lifecycle]\nconfirmations_needed = 2.5\n", "lifecycle.confirmations_needed"),
        ("[embedder]\nhashing_dim = true\n", "embedder.hashing_dim"),
        ("lifecycle = 3\n", "lifecycle"),
        ('[capture.kind_weights]\nerror = "high"\n', "capture.kind_weights"),
        ('[embedder]\nname = "word2vec"\n', "embedder.name"),
        ("[lifecycle]\nconfidence_floor = 0.1\n", "lifecycle"),
        ("[scheduler]\nbudget_fraction = 1.5\n", "budget_fraction"),
        ("[lifecycle\n", "not valid TOML"),
    ],
)
def test_bad_config_is_a_config_error_naming_the_setting(tmp_path: Path, toml: str, needle: str) -> None:
    write_toml(tmp_path, toml)
    with pytest.raises(ConfigError, match=needle.replace(".", r"\.").replace("[", r"\[")):
        load_config(tmp_path)


def test_oneiro_home_overrides_the_state_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "elsewhere"
    write_toml(root, "[lifecycle]\nexpiry_days = 3\n")
    monkeypatch.setenv(STATE_DIR_ENV, str(root))
    config = load_config()
    assert config.state_dir == root
    assert config.store_path == root / "oneiro.db"
    assert config.lifecycle.expiry_days == 3.0


def test_oneiro_home_is_where_open_puts_the_store(home: Path) -> None:
    with oneiro.open() as memory:
        memory.record({"text": "stored under ONEIRO_HOME"})
        assert memory.embedder.name.startswith("hashing")
    assert (home / "oneiro.db").exists()


def test_oneiro_config_names_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_toml(tmp_path / "cfg", "[recall]\nrrf_k = 30\n")
    monkeypatch.setenv(CONFIG_FILE_ENV, str(path))
    assert load_config(tmp_path / "state").recall.rrf_k == 30


def test_oneiro_config_naming_a_missing_file_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CONFIG_FILE_ENV, str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match=r"missing\.toml"):
        load_config(tmp_path)


def test_explicit_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path, file=tmp_path / "nope.toml")


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_apply_their_values(tmp_path: Path, name: str) -> None:
    config = load_config(tmp_path, preset=name)
    for section, values in PRESETS[name].items():
        for key, value in values.items():
            assert getattr(getattr(config, section), key) == value


def test_nap_is_shorter_than_night(tmp_path: Path) -> None:
    nap, night = load_config(tmp_path, preset="nap"), load_config(tmp_path, preset="night")
    assert nap.budget.wall_seconds < night.budget.wall_seconds
    assert nap.scheduler.min_interval_hours < night.scheduler.min_interval_hours
    assert nap.nrem.replay_top_k < night.nrem.replay_top_k


def test_file_overrides_preset_and_overrides_override_file(tmp_path: Path) -> None:
    write_toml(tmp_path, "[budget]\nwall_seconds = 99.0\n[recall]\nrrf_k = 20\n")
    config = load_config(tmp_path, preset="night", overrides={"recall": {"rrf_k": 10}})
    assert config.budget.wall_seconds == 99.0
    assert config.nrem.replay_top_k == PRESETS["night"]["nrem"]["replay_top_k"]
    assert config.recall.rrf_k == 10


def test_unknown_preset_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="siesta"):
        load_config(tmp_path, preset="siesta")


def test_config_is_json_ready(tmp_path: Path) -> None:
    view = to_dict(load_config(tmp_path))
    assert view["state_dir"] == str(tmp_path)
    assert view["lifecycle"]["confidence_floor"] == 0.3
