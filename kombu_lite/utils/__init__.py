"""kombu-compatible import paths: ``kombu_lite.utils.functional``,
``kombu_lite.utils.json``, ``kombu_lite.utils.uuid`` and
``kombu_lite.utils.debug``; nothing is exported from the package itself."""

from __future__ import annotations

__all__: list[str] = []
