"""Achilles regression tests for program:squares_total: inputs on which competing variants disagreed."""

import pytest

from program import squares_total

PARAMS = {'strategy': 'stream', 'chunk': 4096}
CASES = [({'n': -1}, ['value', '0']), ({'n': -10}, ['value', '0']), ({'n': -19}, ['value', '0']), ({'n': -31}, ['value', '0'])]


@pytest.mark.parametrize("kwargs, expected", CASES)
def test_kept_variant_answers_as_recorded(kwargs, expected):
    kind, value = expected
    if kind == 'raised':
        with pytest.raises(Exception) as info:
            squares_total(**kwargs, **PARAMS)
        assert type(info.value).__name__ == value
    else:
        assert repr(squares_total(**kwargs, **PARAMS)) == value
