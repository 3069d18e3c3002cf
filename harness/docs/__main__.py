"""``python -m harness.docs lint PAGE...`` (see harness/docs/cli.py)."""

from __future__ import annotations

import sys

from harness.docs.cli import main

sys.exit(main())
