"""What an LLM answer cites maps to real ids only: a handle the prompt showed, or a full id it
listed; anything else (made up, garbled, a handle never shown) is dropped."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from oneiro.dream.ops.llm.common import cited, handles

IDS = st.lists(st.text(alphabet="0123456789abcdef", min_size=8, max_size=64), unique=True, max_size=20)


@given(IDS, st.lists(st.text(max_size=70), max_size=30))
def test_a_citation_is_a_shown_id_or_nothing(ids: list[str], answer: list[str]) -> None:
    shown = handles(ids)
    out = cited(answer, shown)
    assert set(out) <= set(ids) and len(out) == len(set(out))


def test_handles_and_full_ids_both_resolve_and_a_ghost_does_not() -> None:
    shown = handles(["a" * 64, "b" * 64], prefix="e")
    assert cited(["e2", "[e1]", "a" * 64, "e3", "ghost"], shown) == ("b" * 64, "a" * 64)
