"""kombu-compatible import paths only: ``kombu_lite.utils.functional`` and
``kombu_lite.utils.json``; nothing new is ever added here."""

from __future__ import annotations

__all__: list[str] = []
