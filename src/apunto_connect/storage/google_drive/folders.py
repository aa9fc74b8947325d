"""Folders and searches of the Drive provider.

The app folder, paths created on demand, a bounded cache of folder ids, and creates that look
before they resend.
"""

import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from ..._caches import BoundedCache
from ...errors import (
    TransportError,
)
from .client import DriveClient, log
from .mapping import FILE_FIELDS, FOLDER_MIME_TYPE, LIST_FIELDS, file_query, folder_segments

__all__ = ["DriveFolders"]


class DriveFolders(DriveClient):
    """Searches and folder paths below the app folder."""

    root_folder: str
    page_size: int
    drive_id: str | None
    _folder_lock: threading.RLock
    _folders: BoundedCache[str, str]
    _folder_paths: BoundedCache[str, str]
    _app_folder_id: str | None
    max_retries: int

    # -- queries --------------------------------------------------------------------------------

    def _search(self, q: str, *, fields: str = LIST_FIELDS, limit: int | None = None,
                order_by: str | None = None) -> Iterator[dict[str, Any]]:
        files = self._service().files()
        token: str | None = None
        seen = 0
        while True:
            params: dict[str, Any] = {
                "q": q, "fields": fields, "pageSize": self.page_size, "spaces": "drive",
                "supportsAllDrives": True, "includeItemsFromAllDrives": True,
            }
            if self.drive_id:
                params.update(corpora="drive", driveId=self.drive_id)
            if order_by:
                params["orderBy"] = order_by
            if token:
                params["pageToken"] = token
            page = self._execute(files.list(**params))
            for item in page.get("files", []):
                yield item
                seen += 1
                if limit is not None and seen >= limit:
                    return
            token = page.get("nextPageToken")
            if not token:
                return

    def _first(self, q: str, order_by: str | None = "createdTime") -> dict[str, Any] | None:
        return next(self._search(q, limit=1, order_by=order_by), None)

    def _create_once(self, find: Callable[[], dict[str, Any] | None],
                     create: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """Create, but after a drop following the send look for the result before resending."""
        attempts = max(1, self.max_retries) + 1
        for attempt in range(attempts):
            try:
                return create()
            except TransportError as exc:
                if not exc.request_sent or attempt == attempts - 1:
                    raise
                log.warning("Drive create may have gone through (%s); looking it up", exc)
                existing = find()
                if existing is not None:
                    return existing
        raise AssertionError("unreachable")  # pragma: no cover

    # -- folders --------------------------------------------------------------------------------

    def _find_folder(self, name: str, parent: str) -> dict[str, Any] | None:
        return self._first(file_query(name=name, parent=parent, folder=True))

    def _create_folder(self, name: str, parent: str) -> dict[str, Any]:
        body = {"name": name, "mimeType": FOLDER_MIME_TYPE, "parents": [parent]}

        def create() -> dict[str, Any]:
            request = self._service().files().create(
                body=body, fields=FILE_FIELDS, supportsAllDrives=True
            )
            result: dict[str, Any] = self._execute(request)
            return result

        return self._create_once(lambda: self._find_folder(name, parent), create)

    def _folder_id(self, folder: str, *, create: bool) -> str | None:
        """The id of ``folder`` below the app folder (created on demand when ``create``)."""
        segments = folder_segments(folder)
        key = ""
        parent = self._app_folder_id
        if parent is None:
            with self._folder_lock:
                parent = self._app_folder_id
                if parent is None:
                    found = self._find_folder(self.root_folder, "root")
                    if found is None:
                        if not create:
                            return None
                        found = self._create_folder(self.root_folder, "root")
                    parent = str(found["id"])
                    self._remember_folder("", parent)
        for segment in segments:
            key = f"{key}/{segment}" if key else segment
            cached = self._folders.get(key)
            if cached is not None:
                parent = cached
                continue
            with self._folder_lock:
                cached = self._folders.get(key)
                if cached is None:
                    found = self._find_folder(segment, parent)
                    if found is None:
                        if not create:
                            return None
                        found = self._create_folder(segment, parent)
                    cached = str(found["id"])
                    self._remember_folder(key, cached)
            parent = cached
        return parent

    def _remember_folder(self, path: str, folder_id: str) -> None:
        if not path:
            self._app_folder_id = folder_id
            return
        self._folders.put(path, folder_id)
        self._folder_paths.put(folder_id, path)

    def _known_path(self, folder_id: str) -> str | None:
        """The cached path of ``folder_id`` (``""`` for the app folder), or ``None``."""
        if folder_id == self._app_folder_id:
            return ""
        return self._folder_paths.get(folder_id)

    def _folder_path_of(self, file: Mapping[str, Any]) -> str:
        """The caller-style folder path of a file, from the cache or by walking up its parents."""
        parents = file.get("parents") or []
        if not parents:
            return ""
        parent = str(parents[0])
        if self._known_path(parent) is None:
            self._folder_id("", create=False)  # learn the app folder: the walk stops there
        known = self._known_path(parent)
        if known is not None:
            return known
        names: list[str] = []
        current = parent
        for _ in range(64):  # Drive paths are shallow; the cap guards against cycles
            prefix = self._known_path(current)
            if prefix is not None:
                path = "/".join([prefix, *reversed(names)] if prefix else reversed(names))
                self._remember_folder(path, parent)
                return path
            info = self._execute(self._service().files().get(
                fileId=current, fields="id,name,parents", supportsAllDrives=True
            ))
            up = info.get("parents") or []
            if not up:
                break
            names.append(str(info["name"]))
            current = str(up[0])
        return ""

