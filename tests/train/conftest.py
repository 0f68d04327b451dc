from __future__ import annotations

from typing import Any

import pytest
from train_support import tiny_model


@pytest.fixture
def model() -> Any:
    return tiny_model()
