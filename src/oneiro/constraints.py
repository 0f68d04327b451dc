"""Constraints: limits on the playbook that no revision may change or break.

Four kinds: a parameter range, a locked item, a locked section, text that may never appear. They
come from a TOML file (``oneiro playbook constraints --load FILE``) or the API, never from a
revision; the playbook checks every candidate against them (see :mod:`oneiro.playbook`).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from oneiro.errors import ConfigError
from oneiro.model import canonical_json

if TYPE_CHECKING:
    from oneiro.playbook import Item


@dataclass(frozen=True)
class Constraint:
    """A limit on the playbook that no revision may change or break. ``kind`` is one of
    :data:`CONSTRAINT_FIELDS`; ``spec`` holds its fields."""

    name: str
    kind: str
    spec: dict[str, Any]
    source: str = "api"

    def broken_by(self, before: Sequence[Item], after: Sequence[Item]) -> bool:
        return _CHECKS[self.kind](self.spec, before, after)


def _in_scope(spec: Mapping[str, Any], item: Item) -> bool:
    return "section" not in spec or item.section == spec["section"]


def _param_range(spec: Mapping[str, Any], before: Sequence[Item], after: Sequence[Item]) -> bool:
    lo, hi = spec.get("min", float("-inf")), spec.get("max", float("inf"))
    for item in after:
        if _in_scope(spec, item) and spec["param"] in item.params:
            value = item.params[spec["param"]]
            if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
                return True
    return False


def _frozen(items: Sequence[Item], keep: Callable[[Item], bool]) -> list[tuple[str, str, str, str]]:
    return [(i.id, i.section, i.text, canonical_json(i.params)) for i in items if keep(i)]


def _locked_item(spec: Mapping[str, Any], before: Sequence[Item], after: Sequence[Item]) -> bool:
    return _frozen(before, lambda i: i.id == spec["item"]) != _frozen(after, lambda i: i.id == spec["item"])


def _locked_section(spec: Mapping[str, Any], before: Sequence[Item], after: Sequence[Item]) -> bool:
    def keep(i: Item) -> bool:
        return bool(i.section == spec["section"])

    return _frozen(before, keep) != _frozen(after, keep)


def _forbidden_text(spec: Mapping[str, Any], before: Sequence[Item], after: Sequence[Item]) -> bool:
    pattern = re.compile(spec["pattern"], re.IGNORECASE)
    return any(pattern.search(i.text) for i in after)


_CHECKS: dict[str, Callable[[Mapping[str, Any], Sequence[Item], Sequence[Item]], bool]] = {
    "param_range": _param_range,
    "locked_item": _locked_item,
    "locked_section": _locked_section,
    "forbidden_text": _forbidden_text,
}
#: Each kind's fields: (name, required, allowed types).
CONSTRAINT_FIELDS: dict[str, tuple[tuple[str, bool, tuple[type, ...]], ...]] = {
    "param_range": (
        ("param", True, (str,)),
        ("min", False, (int, float)),
        ("max", False, (int, float)),
        ("section", False, (str,)),
    ),
    "locked_item": (("item", True, (str,)),),
    "locked_section": (("section", True, (str,)),),
    "forbidden_text": (("pattern", True, (str,)),),
}


def violations(constraints: Sequence[Constraint], before: Sequence[Item], after: Sequence[Item]) -> list[str]:
    """Names of the constraints that going from ``before`` to ``after`` breaks."""
    return [c.name for c in constraints if c.broken_by(before, after)]


def parse_constraint(raw: Mapping[str, Any], source: str, where: str) -> Constraint:
    """One constraint from a mapping; ConfigError naming ``where`` for anything malformed."""
    name, kind = raw.get("name"), raw.get("kind")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{where}: a constraint needs a non-empty string 'name'")
    if kind not in CONSTRAINT_FIELDS:
        raise ConfigError(f"{where}: constraint {name!r} has kind {kind!r}; use one of {', '.join(_CHECKS)}")
    allowed = {f for f, _, _ in CONSTRAINT_FIELDS[kind]} | {"name", "kind"}
    extra = set(raw) - allowed
    if extra:
        raise ConfigError(f"{where}: constraint {name!r} has unknown fields {sorted(extra)}")
    for fname, required, types in CONSTRAINT_FIELDS[kind]:
        value = raw.get(fname)
        if value is None:
            if required:
                raise ConfigError(f"{where}: constraint {name!r} ({kind}) needs '{fname}'")
            continue
        if isinstance(value, bool) or not isinstance(value, types):
            raise ConfigError(f"{where}: constraint {name!r}: '{fname}' has the wrong type ({value!r})")
    if kind == "forbidden_text":
        try:
            re.compile(raw["pattern"])
        except re.error as exc:
            raise ConfigError(f"{where}: constraint {name!r}: bad pattern: {exc}") from exc
    spec = {k: v for k, v in raw.items() if k not in {"name", "kind"}}
    return Constraint(name, kind, spec, source)


def load_constraints(path: Path) -> list[Constraint]:
    """Constraints from a TOML file of ``[[constraint]]`` tables. Any error is a ConfigError and
    nothing is loaded."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"constraints file {path} does not exist") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    extra = set(data) - {"constraint"}
    tables = data.get("constraint", [])
    if extra or not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise ConfigError(f"{path}: expected only [[constraint]] tables")
    out = [parse_constraint(t, str(path), f"{path} constraint #{n}") for n, t in enumerate(tables, 1)]
    names = [c.name for c in out]
    if len(set(names)) != len(names):
        raise ConfigError(f"{path}: constraint names must be unique")
    return out
