"""``python -m kombu_lite``: the command line (see :mod:`kombu_lite.cli`)."""

from __future__ import annotations

import sys

from kombu_lite.cli import main

if __name__ == "__main__":
    sys.exit(main())
