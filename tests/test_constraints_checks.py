"""Constraints are checked when they are made: finite, ordered bounds; patterns that cannot
backtrack catastrophically; and loosening a stored constraint needs an explicit replace."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from oneiro.constraints import MAX_PATTERN_CHARS, parse_constraint
from oneiro.errors import ConfigError, ConstraintViolation
from oneiro.playbook import Playbook
from oneiro.store import SQLiteStore


def param(**spec: Any) -> dict[str, Any]:
    return {"name": "lev", "kind": "param_range", "param": "leverage", **spec}


def pattern(p: str) -> dict[str, Any]:
    return {"name": "no-x", "kind": "forbidden_text", "pattern": p}


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ({"min": float("nan")}, "'min' must be a finite number"),
        ({"max": float("nan")}, "'max' must be a finite number"),
        ({"min": 5, "max": 1}, "above 'max'"),
        ({"max": float("inf")}, "'max' must be a finite number"),
        ({"min": -float("inf"), "max": 3}, "'min' must be a finite number"),
        ({"min": 10**400}, "'min' must be a finite number"),
        ({}, "needs 'min', 'max' or both"),
    ],
)
def test_a_meaningless_range_is_refused(spec: dict[str, Any], needle: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(needle)):
        parse_constraint(param(**spec), "api", "constraint")


CATASTROPHIC = [
    r"(a+)+$",
    r"(a|a)*",
    r"(a|ab)+$",
    r"(a*)*b",
    r"((ab)*)+",
    r"(\w+\s?)*$",
    r"(.|\s)*x",
    r"(?:\d+)*z",
    r"(x+x+)+y",
    r"(.*a){20}",
]
SAFE = [
    r"pay\s*out",
    r"\bwire\s+transfer\b",
    r"(foo|bar)+",
    r"[a-z]+@[a-z]+\.com",
    r"(a|b|c)+",
    r"(?:ab)+c",
    r"(?>a+)+",
    r"(a++)+",
]


@pytest.mark.parametrize("p", CATASTROPHIC)
def test_a_pattern_that_backtracks_catastrophically_is_refused(p: str) -> None:
    with pytest.raises(ConfigError, match="exponential time"):
        parse_constraint(pattern(p), "api", "constraint")


@pytest.mark.parametrize("p", SAFE)
def test_ordinary_patterns_are_kept(p: str) -> None:
    assert parse_constraint(pattern(p), "api", "constraint").spec["pattern"] == p


def test_the_refused_shapes_really_are_slow_and_the_kept_ones_are_not() -> None:
    """The check is about behaviour: a refused shape takes visibly long on a short hostile text."""
    hostile = "a" * 24 + "!"
    start = time.perf_counter()
    re.search(r"(a+)+$", hostile)
    assert time.perf_counter() - start > 0.05
    start = time.perf_counter()
    for p in SAFE:
        re.search(p, hostile * 40, re.IGNORECASE)
    assert time.perf_counter() - start < 0.05


@pytest.mark.parametrize("p", ["x" * (MAX_PATTERN_CHARS + 1), "(", "   "])
def test_a_long_broken_or_empty_pattern_is_refused(p: str) -> None:
    with pytest.raises(ConfigError, match="pattern"):
        parse_constraint(pattern(p), "api", "constraint")


@pytest.fixture
def pb() -> Playbook:
    return Playbook(SQLiteStore(":memory:"), clock=lambda: 1.0)


def toml(tmp_path: Path, body: str) -> Path:
    path = tmp_path / f"c{abs(hash(body))}.toml"
    path.write_text("[[constraint]]\n" + body, encoding="utf-8")
    return path


def test_loosening_a_constraint_needs_replace_and_is_journaled(pb: Playbook, tmp_path: Path) -> None:
    pb.load_constraints(toml(tmp_path, 'name = "lev"\nkind = "param_range"\nparam = "leverage"\nmax = 3\n'))
    wider = toml(tmp_path, 'name = "lev"\nkind = "param_range"\nparam = "leverage"\nmax = 30\n')
    with pytest.raises(ConstraintViolation, match=r"'lev'.*widens.*--replace"):
        pb.load_constraints(wider)
    assert pb.constraints()[0].spec["max"] == 3
    assert not pb.store.journal_read(kind="constraint_replaced")
    pb.load_constraints(wider, replace=True)
    assert pb.constraints()[0].spec["max"] == 30
    [record] = pb.store.journal_read(kind="constraint_replaced")
    assert record.payload["before"]["max"] == 3 and record.payload["after"]["max"] == 30
    assert "widens" in record.payload["loosens"]


@pytest.mark.parametrize(
    "body",
    [
        'name = "lev"\nkind = "forbidden_text"\npattern = "zzz"\n',
        'name = "lev"\nkind = "param_range"\nparam = "other"\nmax = 1\n',
        'name = "lev"\nkind = "param_range"\nparam = "leverage"\nmin = 0\n',
    ],
)
def test_any_change_that_may_loosen_is_refused_without_replace(
    pb: Playbook, tmp_path: Path, body: str
) -> None:
    pb.add_constraint(param(max=3))
    with pytest.raises(ConstraintViolation):
        pb.load_constraints(toml(tmp_path, body))
    assert pb.constraints()[0].spec == {"param": "leverage", "max": 3}


def test_tightening_needs_no_replace_and_is_journaled(pb: Playbook) -> None:
    pb.add_constraint(param(max=3))
    pb.add_constraint(param(min=1, max=2))
    assert pb.constraints()[0].spec == {"param": "leverage", "min": 1, "max": 2}
    [record] = pb.store.journal_read(kind="constraint_replaced")
    assert record.payload["loosens"] is None


def test_a_directory_given_as_constraints_file_is_a_config_error(pb: Playbook, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        pb.load_constraints(tmp_path)
