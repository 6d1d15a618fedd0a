"""A tamper-evident history of audits: one hash-chained SQLite file beside the bundles (issue 14).

Each audit run (or comparison of two runs) is appended with :func:`record`: its
system, version, date, verdict, counts, headline figures and the SHA-256 of its
signed bundle's ``manifest.json``, linked to the record before it by hash.
:func:`verify_history` recomputes the chain, checks the head and, optionally,
re-checks every bundle. Storage is the standard library's :mod:`sqlite3`: an
embedded, file-based database that ships with Python, so no new dependency.

The chain notices accidental and naive edits; it is tamper-evident against a
determined editor only once its head hash (``HistoryRecord.record_hash`` of the
latest record) is anchored outside the file: ``audit run`` seals the head into
each new bundle's signed manifest (:func:`anchor`, key ``history_previous``), and
:func:`verify_history` compares every bundle's anchor with the chain, so a
rewrite of the records before a signed bundle is detected. :mod:`audit.history._ledger` says exactly what is hashed and why.
"""

from __future__ import annotations

from audit.history._headline import HEADLINE, headline_figures
from audit.history._ledger import (
    ANCHOR_KEY,
    DB_FILE_NAME,
    GENESIS_HASH,
    HISTORY_BROKEN,
    HISTORY_CANNOT_OPEN,
    HISTORY_LOCKED,
    HISTORY_MANIFEST_MISSING,
    HISTORY_NOT_A_DATABASE,
    HISTORY_NOT_A_HISTORY,
    HISTORY_RECORD_UNREADABLE,
    HISTORY_WRITE_FAILED,
    HistoryCheck,
    HistoryRecord,
    anchor,
    check_before_append,
    default_db_path,
    record,
    records,
    verify_history,
)

__all__ = [
    "ANCHOR_KEY",
    "HEADLINE",
    "headline_figures",
    "anchor",
    "check_before_append",
    "DB_FILE_NAME",
    "GENESIS_HASH",
    "HISTORY_BROKEN",
    "HISTORY_CANNOT_OPEN",
    "HISTORY_LOCKED",
    "HISTORY_MANIFEST_MISSING",
    "HISTORY_NOT_A_DATABASE",
    "HISTORY_NOT_A_HISTORY",
    "HISTORY_RECORD_UNREADABLE",
    "HISTORY_WRITE_FAILED",
    "HistoryCheck",
    "HistoryRecord",
    "default_db_path",
    "record",
    "records",
    "verify_history",
]
