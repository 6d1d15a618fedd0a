"""Checks of the spec and the output folder that need no data: run before any work starts.

Everything here can refute an audit.yaml in well under a second: policy packs, threshold and
attestation ids against the tool's own registries, the fairness metric and direction, the
intersections, the output folder (really tried), and the signing material (key, password,
certificate validity). Problems are :class:`audit.errors.AuditInputError`, one line each.
Problems that need the data (columns, targets, ids, bins, values) are found when
``audit.subject.load_subject`` reads it, still before the first check runs.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

from audit.errors import (
    ATTESTATION_UNKNOWN,
    DIRECTION_CONFLICT,
    FILE_NOT_FOUND,
    PRIMARY_METRIC_UNKNOWN,
    UNSUPPORTED_FORMAT,
    AuditInputError,
)
from audit.spec import AuditSpec

__all__ = ["SLUG_LIMIT", "slug", "check_output_folder", "check_inputs_before_work"]


def slug(text: str) -> str:
    """The folder name a system's name gives its bundles."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "system"


#: Longest folder name a system's name may give its bundles (most file systems allow 255 bytes; paths stay readable).
SLUG_LIMIT = 80


def check_output_folder(spec: AuditSpec, spec_path: Path, output: Path | None) -> None:
    """The bundle's folder can be made and written, checked before any work (nothing is left behind).

    The system's name must give a folder name of at most SLUG_LIMIT characters; no existing part of the path
    to ``<output>/<system>`` may be a file; and a folder can be created in the deepest part that exists
    (tried for real, then removed: permissions, read-only disks and full disks all show).
    """
    import tempfile

    from audit.errors import OUTPUT_NOT_A_FOLDER, OUTPUT_NOT_WRITABLE, SYSTEM_NAME_TOO_LONG

    name = slug(spec.system.name)
    if len(name) > SLUG_LIMIT:
        raise AuditInputError(SYSTEM_NAME_TOO_LONG, path=spec_path, length=len(name), limit=SLUG_LIMIT)
    field_name = "--output" if output is not None else "output"
    root = output if output is not None else spec.output
    existing = root / name
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise AuditInputError(OUTPUT_NOT_A_FOLDER, path=existing, field=field_name)
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".audit-write-check-", dir=existing))
    except OSError as exc:
        problem = f"cannot create a folder in {existing} ({exc.strerror or type(exc).__name__})"
        raise AuditInputError(OUTPUT_NOT_WRITABLE, path=root, field=field_name, problem=problem) from None


def check_inputs_before_work(spec: AuditSpec, spec_path: Path, *, output: Path | None = None) -> None:
    """Fail fast, before any data is read, on spec values the tool's own registries can refute."""
    from audit.fairness.choice import PRIMARY_METRICS, canonical_metric
    from audit.fairness.groups import intersection_sets
    from audit.policies import available_packs, load_pack
    from audit.thresholds import validate_overrides

    known = available_packs()
    for name in spec.policies:
        if name not in known:
            raise AuditInputError(UNSUPPORTED_FORMAT, path=spec_path, what="policy pack", value=name, supported=", ".join(known))
    validate_overrides(spec, path=spec_path)
    requirement_ids = {req.id for name in spec.policies for req in load_pack(name).requirements}
    for answered in spec.attestations:
        if answered not in requirement_ids:
            raise AuditInputError(ATTESTATION_UNKNOWN, path=spec_path, id=answered, packs=", ".join(spec.policies))
    if spec.fairness.primary_metric and canonical_metric(spec.fairness.primary_metric) is None:
        raise AuditInputError(PRIMARY_METRIC_UNKNOWN, path=spec_path, name=spec.fairness.primary_metric,
                              known=", ".join(PRIMARY_METRICS))
    favourable, nature = spec.data.favourable_decision, spec.fairness.decision_nature
    if favourable is not None and nature is not None and (favourable == "positive") != (nature == "assistive"):
        raise AuditInputError(DIRECTION_CONFLICT, path=spec_path, favourable=favourable, nature=nature)
    intersection_sets([p.column for p in spec.data.protected_specs()], spec.fairness.intersections, spec_path=spec_path)
    check_output_folder(spec, spec_path, output)
    if spec.signing is not None:
        from audit.signing import check_signing_material

        for what, path in (("signing key", spec.signing.key), ("signing certificate", spec.signing.certificate)):
            if not spec.resolve(path).is_file():
                raise AuditInputError(FILE_NOT_FOUND, what=what, path=spec.resolve(path),
                                      hint="create a test key with `audit keygen`, or fix signing in the spec")
        # key and certificate belong together, the key opens (AUDIT_KEY_PASSWORD), the certificate is valid
        # on the audit date and now, when the bundle is signed: refused here, not after minutes of work
        check_signing_material(spec.resolve(spec.signing.key), spec.resolve(spec.signing.certificate),
                               on=spec.audit_date or dt.datetime.now(dt.UTC).date())
