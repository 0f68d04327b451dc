"""Every setting is checked at load against its declared range or choices, naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from oneiro.config import CHOICES, RANGES, Config, load_config, settings
from oneiro.errors import ConfigError


def write(tmp_path: Path, toml: str) -> Path:
    (tmp_path / "oneiro.toml").write_text(toml, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ("[lifecycle]\nconfirmations_needed = 0\n", "lifecycle.confirmations_needed"),
        ("[lifecycle]\nexpiry_days = -5.0\n", "lifecycle.expiry_days"),
        ("[lifecycle]\nconfirm_window_days = nan\n", "lifecycle.confirm_window_days"),
        ("[lifecycle]\nconfidence_floor = nan\n", "lifecycle.confidence_floor"),
        ("[nrem]\nduplicate_similarity = nan\n", "nrem.duplicate_similarity"),
        ("[nrem]\ntopic_similarity = 1.5\n", "nrem.topic_similarity"),
        ("[embedder]\nbatch_size = 0\n", "embedder.batch_size"),
        ("[recall]\nrrf_k = 0\n", "recall.rrf_k"),
        ("[recall]\nrecency_half_life_hours = 0.0\n", "recall.recency_half_life_hours"),
        ("[recall]\nw_recency = inf\n", "recall.w_recency"),
        ("[capture]\nmax_data_bytes = 1\n", "capture.max_data_bytes"),
        ("[capture]\nnovelty_neighbours = -1\n", "capture.novelty_neighbours"),
        ("[capture.kind_weights]\nerror = nan\n", "capture.kind_weights.error"),
        ("[scheduler]\npoll_seconds = 0.0\n", "scheduler.poll_seconds"),
        ("[scheduler]\nbudget_fraction = 0.0\n", "scheduler.budget_fraction"),
        ("[scheduler]\nmin_interval_hours = 48.0\n", "scheduler.min_interval_hours"),
        ("[budget]\nwall_seconds = -1.0\n", "budget.wall_seconds"),
        ("[budget]\nvitality = 2.0\n", "budget.vitality"),
        ('[budget]\ntier = "T9"\n', "budget.tier"),
        ('[budget]\ntier = "T1"\n', "budget.tokens"),
        ("[store]\nbusy_timeout_ms = -1\n", "store.busy_timeout_ms"),
        ('[embedder]\nname = "bert"\n', "embedder.name"),
        ('sleep = "hibernate"\n', "sleep"),
    ],
)
def test_a_setting_out_of_range_is_refused_naming_its_key(tmp_path: Path, toml: str, key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(write(tmp_path, toml))


def test_every_numeric_and_enumerated_setting_has_a_declared_check() -> None:
    for name, value in settings(Config()).items():
        if isinstance(value, bool):
            continue
        if isinstance(value, int | float | dict):
            assert name in RANGES, f"{name} has no declared range"
        elif isinstance(value, str):
            assert name in CHOICES, f"{name} has no declared choices"
    assert set(RANGES) | set(CHOICES) <= set(settings(Config()))


def test_the_defaults_and_presets_satisfy_every_range(tmp_path: Path) -> None:
    for preset in (None, "nap", "night"):
        load_config(tmp_path, preset=preset)


def test_every_range_refuses_nan_and_its_own_outside(tmp_path: Path) -> None:
    for name, rng in RANGES.items():
        section, key = name.split(".")
        current = getattr(getattr(Config(), section), key)
        if isinstance(current, dict):
            continue
        outside = rng.lo - 1 if not isinstance(current, float) else rng.lo - 1.0
        for bad in [outside] if isinstance(current, int) else [outside, float("nan"), float("inf")]:
            with pytest.raises(ConfigError, match=name.replace(".", r"\.")):
                load_config(tmp_path, overrides={section: {key: bad}})


def test_python_overrides_with_a_huge_integer_are_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"recall\.rrf_k"):
        load_config(tmp_path, overrides={"recall": {"rrf_k": 10**400}})
