"""Pages of an Actiun listing and lazy iteration over all of them, serially or concurrently.

The server pages every listing (25 records a page) and describes the pages in response
headers: ``Link`` (``first``/``prev``/``next``/``last`` URLs), ``Per-Page`` and ``Total``. The
client reads page *numbers* out of ``Link`` and asks for them against its own base URL with the
original filters: the reference's ``Link`` URLs use ``http://`` (following them would send the
key in clear text) and carry no filters.
"""

from __future__ import annotations

import math
import re
from collections import deque
from collections.abc import Callable, Generator, Iterator, Mapping
from concurrent.futures import Executor, Future
from typing import Generic, TypeVar
from urllib.parse import parse_qs, urlsplit

import attrs

from ..vendor_spec import VendorSpec
from .spec import SPEC

__all__ = ["Page", "iterate_pages", "page_number_of", "parse_link_header"]

T = TypeVar("T")

_LINK = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,<]*)*)")
_REL = re.compile(r"""rel\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s;,]+))""", re.IGNORECASE)


def parse_link_header(value: str | None) -> dict[str, str]:
    """``rel -> URL`` from a ``Link`` header (folded over several lines or not).

    >>> parse_link_header('<http://h/i?page=2>; rel="next", <http://h/i?page=9>; rel="last"')
    {'next': 'http://h/i?page=2', 'last': 'http://h/i?page=9'}
    """
    links: dict[str, str] = {}
    for url, params in _LINK.findall(value or ""):
        rel = _REL.search(params)
        if not rel:
            continue
        for name in next(group for group in rel.groups() if group is not None).split():
            links.setdefault(name.lower(), url.strip())
    return links


def page_number_of(url: str, param: str = "page") -> int:
    """The ``page`` query parameter of ``url``; 1 when absent, as the reference specifies."""
    values = parse_qs(urlsplit(url).query).get(param)
    if not values:
        return 1
    try:
        return max(1, int(values[0]))
    except ValueError:
        return 1


def _header_int(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    if value is None:
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        return None


@attrs.frozen(slots=True)
class Page(Generic[T]):
    """One page of a listing with what the headers say about the others.

    Attributes:
        items: the records of this page.
        number: this page's number (1-based).
        per_page: records per page (``Per-Page``), if sent.
        total: records in the whole listing (``Total``), if sent.
        links: ``rel -> URL`` from ``Link`` (first, prev, next, last).
        page_size: records per page when the server does not say (``limit.per_page``).
        page_param: the query parameter holding the page number (``field.page``).
    """

    items: tuple[T, ...]
    number: int
    per_page: int | None = None
    total: int | None = None
    links: Mapping[str, str] = attrs.field(factory=dict)
    page_size: int = attrs.field(default=25, kw_only=True, repr=False)
    page_param: str = attrs.field(default="page", kw_only=True, repr=False)

    @classmethod
    def from_headers(
        cls,
        items: tuple[T, ...],
        number: int,
        headers: Mapping[str, str],
        *,
        spec: VendorSpec = SPEC,
    ) -> Page[T]:
        """Build a page from its records and the response headers (names from ``spec``)."""
        return cls(
            items=items,
            number=number,
            per_page=_header_int(headers, spec["header.per_page"]),
            total=_header_int(headers, spec["header.total"]),
            links=parse_link_header(headers.get("Link")),
            page_size=spec["limit.per_page"],
            page_param=spec["field.page"],
        )

    def link_number(self, rel: str) -> int | None:
        """The page number ``Link`` gives for ``rel``, or ``None`` when there is no such link."""
        url = self.links.get(rel)
        return None if url is None else page_number_of(url, self.page_param)

    @property
    def next_number(self) -> int | None:
        """Number of the next page, or ``None`` on the last one."""
        found = self.link_number("next")
        if found is not None:
            return found if found > self.number else None
        if self.links:
            return None  # the server sends Link but no "next": this is the last page
        count = self.page_count
        if count is not None:
            return self.number + 1 if self.number < count else None
        # No headers at all: a full page suggests more may follow.
        return self.number + 1 if self.items and len(self.items) >= self.page_size else None

    @property
    def prev_number(self) -> int | None:
        """Number of the previous page, or ``None`` on the first one."""
        found = self.link_number("prev")
        if found is not None:
            return found
        return self.number - 1 if self.number > 1 and not self.links else None

    @property
    def page_count(self) -> int | None:
        """How many pages the listing has: ``last`` from ``Link``, else ``Total``/``Per-Page``."""
        last = self.link_number("last")
        if last is not None:
            return max(last, self.number)
        if self.total is not None:
            per_page = self.per_page or self.page_size
            return max(1, math.ceil(self.total / per_page))
        if self.links and "next" not in self.links:
            return self.number
        return None

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)


def iterate_pages(
    fetch: Callable[[int], Page[T]],
    *,
    start: int = 1,
    concurrency: int = 1,
    executor: Callable[[], Executor] | None = None,
    max_pages: int | None = None,
) -> Iterator[Page[T]]:
    """Yield every page from ``start`` on, in order, lazily.

    With ``concurrency > 1`` and a page count known from the first page's headers, up to
    ``concurrency`` following pages are fetched at once on ``executor()``; pages are still
    yielded in order and at most ``concurrency`` of them are held in memory. Without a known
    count the pages are followed one by one through ``next``.

    Args:
        fetch: returns page ``n``.
        start: first page number.
        concurrency: pages in flight at once (1 = strictly serial).
        executor: returns the thread pool to use when ``concurrency > 1``.
        max_pages: stop after this many pages (a guard against servers that never end).
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    page = fetch(start)
    yield page
    fetched = 1
    count = page.page_count
    if concurrency > 1 and executor is not None and count is not None and count > page.number:
        last_number = count if max_pages is None else min(count, start + max_pages - 1)
        tail = yield from _concurrent(fetch, page.number + 1, last_number, concurrency, executor())
        if tail is None:
            return
        fetched += last_number - page.number
        page = tail
    while max_pages is None or fetched < max_pages:
        following = page.next_number
        if following is None or following <= page.number or not page.items:
            return
        page = fetch(following)
        fetched += 1
        yield page


def _concurrent(
    fetch: Callable[[int], Page[T]],
    first: int,
    last: int,
    concurrency: int,
    pool: Executor,
) -> Generator[Page[T], None, Page[T] | None]:
    """Fetch pages ``first..last`` with a sliding window; return the last page yielded."""
    pending: deque[Future[Page[T]]] = deque()
    next_to_submit = first
    latest: Page[T] | None = None
    try:
        while next_to_submit <= last and len(pending) < concurrency:
            pending.append(pool.submit(fetch, next_to_submit))
            next_to_submit += 1
        while pending:
            latest = pending.popleft().result()
            if next_to_submit <= last:
                pending.append(pool.submit(fetch, next_to_submit))
                next_to_submit += 1
            yield latest
    finally:
        # The caller stopped early or a page failed: do not leave requests running for nobody.
        for future in pending:
            future.cancel()
    return latest
