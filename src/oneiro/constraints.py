"""Constraints: limits on the playbook that no revision may change or break.

Four kinds: a parameter range, a locked item, a locked section, text that may never appear. They
come from a TOML file (``oneiro playbook constraints --load FILE``) or the API, never from a
revision; the playbook checks every candidate against them (see :mod:`oneiro.playbook`).
"""

from __future__ import annotations

import importlib
import math
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from oneiro.errors import ConfigError, ConstraintViolation
from oneiro.model import canonical_json

if TYPE_CHECKING:
    from oneiro.playbook import Item

#: The standard library's own regex parser (``sre_parse``, deprecated under that name), so the
#: backtracking check reads the very tree ``re`` compiles. It has no type stubs.
sre_parse: Any = importlib.import_module("re._parser")
sre: Any = importlib.import_module("re._constants")


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


#: The longest forbidden_text pattern: enough for any phrase list, short enough to read and check.
MAX_PATTERN_CHARS = 500
#: A repeat allowing more than this many matches is "wide": nesting a variable-length repeat inside
#: it, or overlapping alternatives, makes backtracking grow exponentially with the text (the
#: classic ReDoS shapes ``(a+)+``, ``(a|a)*``, ``(a|ab)+``), or as a high power of it (``(.*a){12}``).
WIDE_REPEAT = 10
_REPEATS = (sre.MAX_REPEAT, sre.MIN_REPEAT)
#: Character classes no larger than this are expanded when checking alternatives for overlap.
_SMALL_CLASS = 256


def _no_problem(raw: Mapping[str, Any]) -> str | None:
    return None


def _range_problem(raw: Mapping[str, Any]) -> str | None:
    """A param_range needs a bound, finite bounds (omit one for "no limit") and min <= max."""
    bounds = {k: raw[k] for k in ("min", "max") if raw.get(k) is not None}
    if not bounds:
        return "a param_range needs 'min', 'max' or both"
    for key, value in bounds.items():
        try:
            finite = math.isfinite(value)
        except OverflowError:
            finite = False
        if not finite:
            return f"'{key}' must be a finite number, got {value!r} (omit it for no {key}imum)"
    if "min" in bounds and "max" in bounds and bounds["min"] > bounds["max"]:
        return f"'min' ({bounds['min']}) is above 'max' ({bounds['max']}): nothing could satisfy it"
    return None


def _pattern_problem(raw: Mapping[str, Any]) -> str | None:
    """A forbidden_text pattern must be short, compile, and have no catastrophic backtracking."""
    pattern = raw["pattern"]
    if not pattern.strip():
        return "'pattern' must not be empty (it would forbid every text)"
    if len(pattern) > MAX_PATTERN_CHARS:
        return f"'pattern' is {len(pattern)} characters; the limit is {MAX_PATTERN_CHARS}"
    try:
        re.compile(pattern, re.IGNORECASE)
        tree = sre_parse.parse(pattern, re.IGNORECASE)
    except (re.error, RecursionError, OverflowError) as exc:
        return f"bad pattern: {exc}"
    shape = _backtracking(list(tree), inside_wide=False)
    if shape:
        return (
            f"pattern {pattern!r} can take exponential time on some texts ({shape}); "
            "rewrite it without nested or overlapping repeats"
        )
    return None


Node = tuple[Any, Any]


def _backtracking(seq: Sequence[Node], *, inside_wide: bool) -> str | None:
    """The first ReDoS shape in a parsed pattern: a variable-length repeat inside a wide repeat,
    or a wide repeat over alternatives that can start the same way (or match nothing)."""
    for op, av in seq:
        if op in _REPEATS:
            lo, hi, body = av
            wide = hi > WIDE_REPEAT  # MAXREPEAT (no upper bound) is a large int
            if inside_wide and lo != hi:
                return "a repeat of variable length inside another repeat"
            if wide and _overlapping_alternatives(body):
                return "a repeat over alternatives that can match the same text"
            found = _backtracking(body, inside_wide=inside_wide or wide)
        elif op is sre.POSSESSIVE_REPEAT or op is sre.ATOMIC_GROUP:
            found = None  # no backtracking into these
        else:
            found = _backtracking_in(op, av, inside_wide)
        if found:
            return found
    return None


def _backtracking_in(op: Any, av: Any, inside_wide: bool) -> str | None:
    parts: list[Sequence[Node]] = []
    if op is sre.SUBPATTERN:
        parts = [av[-1]]
    elif op is sre.BRANCH:
        parts = list(av[1])
    elif op in (sre.ASSERT, sre.ASSERT_NOT):
        parts = [av[1]]
    elif op is sre.GROUPREF_EXISTS:
        parts = [p for p in av[1:] if p is not None]
    for part in parts:
        found = _backtracking(list(part), inside_wide=inside_wide)
        if found:
            return found
    return None


def _overlapping_alternatives(seq: Sequence[Node]) -> bool:
    """Whether a branch at this level (through groups, not inner repeats) has two alternatives
    that may begin with the same character, or one that may match nothing."""
    for op, av in seq:
        if op is sre.SUBPATTERN and _overlapping_alternatives(av[-1]):
            return True
        if op is sre.BRANCH:
            seen: set[int] = set()
            for alternative in av[1]:
                first, nullable = _first(alternative)
                if first is None or nullable or first & seen:
                    return True
                seen |= first
    return False


def _first(seq: Sequence[Node]) -> tuple[set[int] | None, bool]:
    """Characters (case-folded) a sequence may start with (None: too many to list), and whether
    it may match the empty string."""
    out: set[int] = set()
    for op, av in seq:
        first, nullable = _first_of(op, av)
        if first is None:
            return None, False
        out |= first
        if not nullable:
            return out, False
    return out, True


def _first_of(op: Any, av: Any) -> tuple[set[int] | None, bool]:
    if op is sre.LITERAL:
        return _folded([av]), False
    if op is sre.IN:
        return _class(av), False
    if op is sre.SUBPATTERN:
        return _first(av[-1])
    if op in (*_REPEATS, sre.POSSESSIVE_REPEAT):
        first, nullable = _first(av[2])
        return first, nullable or av[0] == 0
    if op is sre.BRANCH:
        out: set[int] = set()
        empty = False
        for alternative in av[1]:
            first, nullable = _first(alternative)
            if first is None:
                return None, False
            out |= first
            empty = empty or nullable
        return out, empty
    if op in (sre.AT, sre.ASSERT, sre.ASSERT_NOT):
        return set(), True
    return None, False


def _class(items: Sequence[Node]) -> set[int] | None:
    out: set[int] = set()
    for op, av in items:
        if op is sre.LITERAL:
            out |= _folded([av])
        elif op is sre.RANGE and av[1] - av[0] < _SMALL_CLASS:
            out |= _folded(range(av[0], av[1] + 1))
        else:
            return None
    return out


def _folded(codes: Any) -> set[int]:
    return {ord(c) for code in codes for c in {chr(code).lower(), chr(code).upper()} if len(c) == 1}


_SPEC_CHECKS: dict[str, Callable[[Mapping[str, Any]], str | None]] = {
    "param_range": _range_problem,
    "forbidden_text": _pattern_problem,
}


def loosening(old: Constraint, new: Constraint) -> str | None:
    """Why replacing ``old`` by ``new`` (same name) could let through what ``old`` stopped, or
    None when ``new`` is as strict or stricter. Only a param_range on the same parameter and
    section can be shown stricter (a narrower range); any other change is taken to loosen, since
    whether one pattern or item covers another cannot be decided in general."""
    if old.kind != new.kind:
        return f"its kind changes from {old.kind} to {new.kind}"
    if old.spec == new.spec:
        return None
    if old.kind != "param_range":
        return f"its {', '.join(sorted(set(old.spec) | set(new.spec)))} change"
    if (old.spec["param"], old.spec.get("section")) != (new.spec["param"], new.spec.get("section")):
        return "it applies to another parameter or section"
    lo_old, lo_new = old.spec.get("min", -math.inf), new.spec.get("min", -math.inf)
    hi_old, hi_new = old.spec.get("max", math.inf), new.spec.get("max", math.inf)
    if lo_new < lo_old or hi_new > hi_old:
        return f"its range widens from [{lo_old}, {hi_old}] to [{lo_new}, {hi_new}]"
    return None


def replacements(
    known: Sequence[Constraint], loaded: Sequence[Constraint], *, replace: bool
) -> list[dict[str, Any]]:
    """The journal payloads for loaded constraints that change a stored one of the same name.

    A change that loosens a constraint needs ``replace``; without it, ConstraintViolation names
    every such constraint and nothing may be stored."""
    by_name = {c.name: c for c in known}
    changes: list[dict[str, Any]] = []
    refused: list[str] = []
    for new in loaded:
        old = by_name.get(new.name)
        if old is None or (old.kind, old.spec) == (new.kind, new.spec):
            continue
        why = loosening(old, new)
        if why and not replace:
            refused.append(f"{new.name!r} ({why})")
        changes.append(
            {
                "name": new.name,
                "before": {"kind": old.kind, **old.spec},
                "after": {"kind": new.kind, **new.spec},
                "loosens": why,
                "source": new.source,
            }
        )
    if refused:
        raise ConstraintViolation(
            f"loading would loosen existing constraint(s) {', '.join(refused)}; "
            "replace them on purpose with --replace (replace=True), which is journaled"
        )
    return changes


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
    problem = _SPEC_CHECKS.get(kind, _no_problem)(raw)
    if problem:
        raise ConfigError(f"{where}: constraint {name!r}: {problem}")
    spec = {k: v for k, v in raw.items() if k not in {"name", "kind"}}
    return Constraint(name, kind, spec, source)


def load_constraints(path: Path) -> list[Constraint]:
    """Constraints from a TOML file of ``[[constraint]]`` tables. Any error is a ConfigError and
    nothing is loaded."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"constraints file {path} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"constraints file {path} is a directory; give a TOML file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"constraints file {path} cannot be read: {exc.strerror or exc}") from exc
    extra = set(data) - {"constraint"}
    tables = data.get("constraint", [])
    if extra or not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise ConfigError(f"{path}: expected only [[constraint]] tables")
    out = [parse_constraint(t, str(path), f"{path} constraint #{n}") for n, t in enumerate(tables, 1)]
    names = [c.name for c in out]
    if len(set(names)) != len(names):
        raise ConfigError(f"{path}: constraint names must be unique")
    return out
