"""Python blocks of README.md and docs/**/*.md, read the way a user reads them.

A fenced ``python`` block runs as shown, in order with the blocks before it on the same page
(a page is one session, like a notebook). A block that needs a real vendor account is marked
by this HTML comment on the line before its fence, which renders as nothing::

    <!-- docs-test: needs-account -->

It is then compiled and type-checked with the rest of its page, but not run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NEEDS_ACCOUNT = "needs-account"
MARKER = re.compile(r"<!--\s*docs-test:\s*([a-z-]+)\s*-->\s*$")
FENCE = re.compile(r"^```python\s*$")


@dataclass(frozen=True)
class Block:
    """One fenced Python block: where it is, its source and whether it runs."""

    page: Path
    line: int  # 1-based line of the opening fence
    source: str
    marker: str | None

    @property
    def runs(self) -> bool:
        return self.marker != NEEDS_ACCOUNT

    @property
    def label(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def pages() -> list[Path]:
    """README.md and every Markdown page under docs/, found anew on every run."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def blocks(page: Path) -> list[Block]:
    """The Python blocks of ``page``, in order, with their markers."""
    lines = page.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    index = 0
    while index < len(lines):
        if FENCE.match(lines[index]):
            start = index
            body: list[str] = []
            index += 1
            while index < len(lines) and not lines[index].startswith("```"):
                body.append(lines[index])
                index += 1
            previous = lines[start - 1] if start else ""
            marker = MARKER.search(previous)
            found.append(
                Block(page, start + 1, "\n".join(body) + "\n", marker.group(1) if marker else None)
            )
        index += 1
    return found


def all_blocks() -> list[Block]:
    """Every Python block of every page."""
    return [block for page in pages() for block in blocks(page)]
