"""Hidden ``.<stamp>.partial`` folders: a bundle being written, and the leftovers of killed runs.

A bundle is written into a hidden partial folder beside its final place and renamed into place in one
step, so an interrupted run never leaves a bundle that looks complete. The partial folder holds a marker
naming the writing process (removed before sealing); a later run removes partial folders whose writer is
gone, or that have not changed for ten minutes, and only those.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from pathlib import Path

__all__ = ["PARTIAL_MARKER", "STALE_AFTER", "remove_abandoned_partials"]

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
