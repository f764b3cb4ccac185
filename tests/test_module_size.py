"""No module in app/ or trainer/ over 400 lines: a file that grows past it becomes a package."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MAX_LINES = 400


@pytest.mark.nodb
def test_no_module_is_over_400_lines() -> None:
    sizes = {
        str(path.relative_to(REPO)): len(path.read_text().splitlines())
        for folder in ("app", "trainer")
        for path in sorted((REPO / folder).rglob("*.py"))
    }
    assert len(sizes) > 50  # the walk found the code
    assert {name: n for name, n in sizes.items() if n > MAX_LINES} == {}
