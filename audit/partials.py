"""Hidden ``.<stamp>.partial`` folders: a bundle being written, and the leftovers of killed runs.

A bundle is written into a hidden partial folder beside its final place and renamed into place in one
step, so an interrupted run never leaves a bundle that looks complete. The partial folder holds a marker
naming the writing process (removed before sealing); a later run removes partial folders whose writer is
gone, or that have not changed for ten minutes, and only those.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PARTIAL_MARKER", "STALE_AFTER", "PartialFolder", "remove_abandoned_partials", "writing_bundle"]

PARTIAL_MARKER = "writer.json"  # inside a .<stamp>.partial folder: who is writing it (removed before sealing)
STALE_AFTER = 600.0  # seconds without a change after which a partial folder counts as abandoned


def _writer_gone(marker: Path) -> bool:
    """Whether the process named in a partial folder's marker is known to have ended (on this machine)."""
    try:
        writer = json.loads(marker.read_text(encoding="utf-8"))
        pid, host = int(writer["pid"]), str(writer.get("host", ""))
    except (OSError, ValueError, KeyError, TypeError):
        return False  # no readable marker: only its age can tell
    if host != socket.gethostname() or pid <= 0:
        return False  # another machine's process (a shared folder): cannot be asked
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # PermissionError: alive, another user's
        return False
    return False


def _last_change(folder: Path) -> float:
    """The latest modification time of the folder or anything in it."""
    latest = folder.stat().st_mtime
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in dirnames + filenames:
            try:
                latest = max(latest, os.lstat(os.path.join(dirpath, name)).st_mtime)
            except OSError:
                continue
    return latest


def remove_abandoned_partials(root: Path, *, now: float | None = None) -> list[str]:
    """Remove ``root/.<name>.partial`` folders left by killed runs; return their names.

    Only hidden folders ending in ``.partial`` directly under ``root`` are considered, and only those whose
    writing process has ended or that have not changed for ``STALE_AFTER`` seconds: a concurrent run of the
    same spec writing its own partial folder right now is left alone.
    """
    now = time.time() if now is None else now
    removed = []
    for entry in sorted(root.iterdir()):
        if not (entry.name.startswith(".") and entry.name.endswith(".partial") and len(entry.name) > len("..partial")):
            continue
        if entry.is_symlink() or not entry.is_dir():
            continue
        try:
            abandoned = _writer_gone(entry / PARTIAL_MARKER) or now - _last_change(entry) > STALE_AFTER
        except OSError:
            continue  # vanished meanwhile (its run finished or another run removed it)
        if abandoned:
            shutil.rmtree(entry, ignore_errors=True)
            if not entry.exists():
                removed.append(entry.name)
    return removed


@dataclass(frozen=True)
class PartialFolder:
    """A bundle being written: ``work`` (hidden, with the writer's marker) becomes ``final`` when it is done."""

    work: Path
    final: Path

    def drop_marker(self) -> None:
        """Remove the writer's marker: call it before the manifest lists the folder's files."""
        (self.work / PARTIAL_MARKER).unlink(missing_ok=True)


@contextmanager
def writing_bundle(root: Path, stem: str) -> Iterator[PartialFolder]:
    """A new bundle folder ``root/<stem>`` (``<stem>-2``, ... when taken, by a concurrent run too), written hidden.

    Yields the hidden ``root/.<name>.partial`` folder, created with the writer's marker. When the block ends the
    marker is removed (if still there) and the folder renamed into place in one step; when it raises, the folder is
    removed and the error goes on: an interrupted write never leaves a bundle that looks complete.
    """
    suffix = 1
    while True:  # a concurrent run may hold the same name: never reuse its folder
        final = root / (stem if suffix == 1 else f"{stem}-{suffix}")
        work = root / f".{final.name}.partial"
        suffix += 1
        if final.exists() or work.exists():
            continue
        try:
            work.mkdir()
        except FileExistsError:
            continue
        break
    folder = PartialFolder(work=work, final=final)
    try:
        (work / PARTIAL_MARKER).write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                                       "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}),
                                           encoding="utf-8")
        yield folder
        folder.drop_marker()
        work.rename(final)
    except BaseException:  # any interruption (KeyboardInterrupt too) must not leave a half bundle; re-raised
        shutil.rmtree(work, ignore_errors=True)
        raise
