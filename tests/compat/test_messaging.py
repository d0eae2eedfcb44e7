"""``kombu.messaging``: kombu code imports the four classes from there."""

from __future__ import annotations

import pytest

from .conftest import Lib


@pytest.mark.parametrize("name", ["Producer", "Consumer", "Exchange", "Queue"])
def test_messaging_exports_the_entity_and_client_classes(lib: Lib, name: str) -> None:
    assert getattr(lib.module("messaging"), name) is getattr(lib.top, name)
