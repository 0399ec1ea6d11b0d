"""Every test here gets its own tiny base: subsystems hook into the model they attach to."""

from __future__ import annotations

import pytest

from models.loading import BaseModel
from tests.tiny import tiny_base


@pytest.fixture
def base() -> BaseModel:
    return tiny_base()
