"""kombu's ``kombu.utils.functional`` path for :func:`retry_over_time`."""

from __future__ import annotations

from kombu_lite.retry import retry_over_time as retry_over_time

__all__ = ["retry_over_time"]
