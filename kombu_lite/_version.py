"""The single source of the kombu_lite version string."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
