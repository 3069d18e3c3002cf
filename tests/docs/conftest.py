"""Fixtures for the docs checks: fixture pages, and the shared tutorials when they exist."""

from __future__ import annotations

from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures"
REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"


def line_of(path: Path, text: str, occurrence: int = 1) -> int:
    """1-based line of the ``occurrence``-th line of ``path`` containing ``text``."""
    seen = 0
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if text in line:
            seen += 1
            if seen == occurrence:
                return number
    raise AssertionError(f"{text!r} (occurrence {occurrence}) not in {path}")


@pytest.fixture
def tutorials() -> Path:
    """../shared/tutorials (skips when this checkout has no shared folder next to it)."""
    path = SHARED / "tutorials"
    if not path.is_dir():
        pytest.skip(f"{path} is absent: the published tutorial pages are not available in this checkout")
    return path
