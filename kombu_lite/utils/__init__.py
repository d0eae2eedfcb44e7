"""kombu-compatible import paths only; nothing new is ever added here."""

from __future__ import annotations

__all__: list[str] = []
