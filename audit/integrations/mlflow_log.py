"""`audit run --mlflow`: log one audit to MLflow as a run (issue 14).

What one run holds:

- **metrics**: every numeric figure (int or float, not bool) of every evidence item that was assessed, as
  ``<evidence id>.<metric>`` (e.g. ``fairness.selection_rate.min_impact_ratio``), and the counts of requirement
  statuses in force as ``requirements.<status>`` (``requirements.PASS``, ``requirements.N_A``...). A metric that
  was not measured (None) is never logged (not as 0, not as NaN): its key is listed in the tag ``audit.unmeasured``
  and their number is the param ``audit.unmeasured``. Labels (text) and flags (bool) are not metrics and are not
  logged; they stay in ``audit.json``, which is logged with the bundle.
- **params**: ``system.name``, ``system.version``, ``audit_date``, ``schema_version``, ``tool.version``,
  ``spec.sha256`` (SHA-256 of the spec file), ``audit.unmeasured``.
- **tags**: ``audit.verdict``, ``audit.readiness_verdict`` (only when some requirement is not yet in force),
  ``audit.bundle`` (absolute path of the bundle folder), ``audit.unmeasured`` and ``audit.not_assessed`` (evidence
  ids whose check could not run, so that their figures are absent; only when there are any).
- **artifacts**: the whole bundle folder under ``bundle/``.

Where: the ``tracking_uri`` argument, else the ``MLFLOW_TRACKING_URI`` environment variable, else a SQLite store
beside the reports: ``<bundle_dir.parent>/mlflow.db`` (``bundle_dir.parent`` is the system's folder holding one
bundle per run). In any SQLite store, an experiment this module creates keeps its artifacts in ``mlartifacts``
beside the database file, not in MLflow's default ``./mlruns`` under whatever the current directory is. Not a
``mlruns`` file store: MLflow 3.17 keeps the file store in maintenance mode and refuses to open one unless
``MLFLOW_ALLOW_FILE_STORE=true`` is set (its own default store is ``sqlite:///mlflow.db``). The SQLite store needs
SQLAlchemy and Alembic, which mlflow-skinny leaves out and the ``mlflow`` extra brings. The experiment is
``experiment``, else the system's name.

MLflow is imported inside :func:`log_audit`: without it the core install still works, and ``--mlflow`` is refused
with :data:`MLFLOW_NOT_INSTALLED`. The run is written through :class:`mlflow.tracking.MlflowClient`, never the
fluent API, so no global MLflow state (active run, ``mlflow.set_tracking_uri``, which also sets the environment
variable) is left behind in the calling process.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit, urlunsplit

from audit.errors import FILE_NOT_FOUND, AuditInputError
from audit.evidence import AuditResult, EvidenceStatus

__all__ = [
    "MLFLOW_NOT_INSTALLED",
    "MLFLOW_LOG_FAILED",
    "MLFLOW_EXPERIMENT_DELETED",
    "DEFAULT_DB",
    "DEFAULT_ARTIFACTS",
    "log_audit",
    "default_tracking_uri",
    "sqlite_artifacts",
    "metric_key",
    "shown_uri",
    "audit_metrics",
]

MLFLOW_NOT_INSTALLED = "MLflow is not installed: pip install 'audit[mlflow]' (or drop --mlflow)"
MLFLOW_LOG_FAILED = "MLflow could not log the audit to {uri}: {problem}"
MLFLOW_EXPERIMENT_DELETED = (
    "MLflow experiment '{name}' at {uri} is deleted; restore it (mlflow experiments restore) or give another "
    "experiment name"
)

DEFAULT_DB = "mlflow.db"  # beside the bundles of one system: <output>/<system slug>/mlflow.db
DEFAULT_ARTIFACTS = "mlartifacts"  # and their artifacts: <output>/<system slug>/mlartifacts/<run id>/artifacts/

_KEY_BAD = re.compile(r"[^A-Za-z0-9_.\- ]")  # what MLflow allows in a key, less '/' (a path separator to MLflow)
_KEY_MAX = 250  # MLflow's MAX_ENTITY_KEY_LENGTH
_TAG_MAX = 8000  # MLflow's MAX_TAG_VAL_LENGTH
_BATCH = 1000  # MLflow's MAX_ENTITIES_PER_BATCH (metrics + params + tags in one log_batch call)

_T = TypeVar("_T")


def metric_key(*parts: str) -> str:
    """An MLflow metric key from its parts joined by '.', every character MLflow refuses (and '/') made '_'."""
    key = _KEY_BAD.sub("_", ".".join(parts)).lstrip(".")  # a key starting with '..' is refused as a path
    return (key or "_")[:_KEY_MAX]


def audit_metrics(result: AuditResult) -> tuple[dict[str, float], list[str]]:
    """The figures logged as metrics, by key, and the keys of those not measured (None), in evidence order.

    Only evidence with status ok; only int and float values (a bool is a flag, a str a label); requirement counts
    as ``requirements.<status>``.
    """
    metrics: dict[str, float] = {}
    unmeasured: list[str] = []
    for evidence in result.evidence:
        if evidence.status is not EvidenceStatus.OK:
            continue
        for name, value in evidence.metrics.items():
            key = metric_key(evidence.id, name)
            if value is None:
                unmeasured.append(key)
            elif isinstance(value, int | float) and not isinstance(value, bool):
                metrics[key] = float(value)
    for status, count in result.counts.items():
        metrics[metric_key("requirements", status)] = float(count)
    return metrics, unmeasured


def default_tracking_uri(bundle_dir: Path) -> str:
    """The SQLite store beside the reports: ``sqlite:////abs/<bundle_dir.parent>/mlflow.db``.

    SQLAlchemy percent-decodes the path and reads a '?' as the start of options, so '%' and '?' are encoded;
    nothing else is, as MLflow creates the file's folder from the URI as written, not decoded (a space encoded
    would leave an empty stray folder named with '%20').
    """
    path = (bundle_dir.parent / DEFAULT_DB).resolve().as_posix()
    return "sqlite:///" + path.replace("%", "%25").replace("?", "%3F")


def sqlite_artifacts(uri: str) -> Path | None:
    """Where a new experiment in a SQLite store keeps its artifacts: ``mlartifacts`` beside the database file.

    MLflow's own default is ``./mlruns`` under the current directory, wherever the audit happens to run; other
    stores (a tracking server, another database) decide for themselves (None).
    """
    if not uri.startswith("sqlite:///"):
        return None
    path = unquote(uri.removeprefix("sqlite:///").partition("?")[0])
    if not path or path == ":memory:":
        return None
    return Path(path).resolve().parent / DEFAULT_ARTIFACTS


def log_audit(
    *,
    bundle_dir: Path,
    result: AuditResult,
    spec_path: Path,
    tracking_uri: str | None = None,
    experiment: str | None = None,
) -> str:
    """Log one audit (its figures, verdicts and bundle) to MLflow as a finished run; return the run id.

    Raises :class:`AuditInputError` when MLflow is not installed (:data:`MLFLOW_NOT_INSTALLED`), when the bundle
    folder or the spec file is missing, and when MLflow refuses or cannot reach the store (:data:`MLFLOW_LOG_FAILED`,
    :data:`MLFLOW_EXPERIMENT_DELETED`); the run is then marked FAILED if it had been created.
    """
    from audit.signing import hash_file

    if not bundle_dir.is_dir():
        raise AuditInputError(FILE_NOT_FOUND, what="bundle folder", path=bundle_dir,
                              hint="log the folder audit run wrote")
    if not spec_path.is_file():
        raise AuditInputError(FILE_NOT_FOUND, what="spec", path=spec_path, hint="give the spec the audit ran from")

    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or default_tracking_uri(bundle_dir)
    # MLflow sends usage telemetry unless told not to: a compliance tool makes no network call of its own
    # (a value the user set is kept).
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    try:
        from mlflow.entities import Metric, Param, RunTag
        from mlflow.exceptions import MlflowException
        from mlflow.tracking import MlflowClient
    except ImportError as exc:
        raise AuditInputError(MLFLOW_NOT_INSTALLED) from exc
    if uri.startswith("sqlite:") and not all(importlib.util.find_spec(m) for m in ("sqlalchemy", "alembic")):
        raise AuditInputError(MLFLOW_NOT_INSTALLED)  # mlflow-skinny alone has no SQL store; the extra brings it

    name = experiment or str(result.system["name"])
    metrics, unmeasured = audit_metrics(result)
    not_assessed = [e.id for e in result.evidence if e.status is not EvidenceStatus.OK]
    params = {
        "system.name": str(result.system["name"]),
        "system.version": str(result.system.get("version", "")),
        "audit_date": result.audit_date,
        "schema_version": result.schema_version,
        "tool.version": str(result.tool.get("version", "")),
        "spec.sha256": hash_file(spec_path),
        "audit.unmeasured": str(len(unmeasured)),
    }
    tags = {
        "audit.verdict": result.verdict.value,
        "audit.bundle": str(bundle_dir.resolve()),
        "audit.unmeasured": _clip(", ".join(unmeasured)),
    }
    if result.readiness_verdict is not None:
        tags["audit.readiness_verdict"] = result.readiness_verdict.value
    if not_assessed:
        tags["audit.not_assessed"] = _clip(", ".join(not_assessed))

    # the store refused, or could not be reached or written: a one-line input error, not a traceback
    store_errors: tuple[type[BaseException], ...] = (MlflowException, OSError, *_sql_errors())
    run_id: str | None = None
    client: Any = None
    try:
        client = MlflowClient(tracking_uri=uri)  # a store MLflow refuses (e.g. a file store) raises here
        experiment_id = _experiment_id(client, name, uri, MlflowException, artifacts=sqlite_artifacts(uri))
        run = client.create_run(experiment_id, run_name=f"{result.system['name']} {bundle_dir.name}")
        run_id = run.info.run_id
        now = int(time.time() * 1000)
        entities: list[Any] = [Param(k, v) for k, v in params.items()]
        entities += [RunTag(k, v) for k, v in tags.items()]
        entities += [Metric(k, v, now, 0) for k, v in metrics.items()]
        for chunk in _chunks(entities, _BATCH):
            client.log_batch(run_id,
                             metrics=[e for e in chunk if isinstance(e, Metric)],
                             params=[e for e in chunk if isinstance(e, Param)],
                             tags=[e for e in chunk if isinstance(e, RunTag)])
        client.log_artifacts(run_id, str(bundle_dir), artifact_path="bundle")
        client.set_terminated(run_id, "FINISHED")
    except store_errors as exc:
        _fail(client, run_id)
        problem = exc.message if isinstance(exc, MlflowException) else f"{type(exc).__name__}: {exc}"
        raise AuditInputError(MLFLOW_LOG_FAILED, uri=shown_uri(uri), problem=_one_line(problem)) from exc
    except BaseException:  # anything else (KeyboardInterrupt too) leaves no run marked running; re-raised as is
        _fail(client, run_id)
        raise
    return run_id


def _experiment_id(client: Any, name: str, uri: str, mlflow_exception: type[Exception], *,
                   artifacts: Path | None) -> str:
    """The id of the live experiment ``name``, created (with ``artifacts`` as its artifact root, if given) if new."""
    found = client.get_experiment_by_name(name)
    if found is None:
        location = artifacts.resolve().as_uri() if artifacts is not None else None
        try:
            return str(client.create_experiment(name, artifact_location=location))
        except mlflow_exception as exc:  # created meanwhile by a concurrent run
            if getattr(exc, "error_code", None) != "RESOURCE_ALREADY_EXISTS":
                raise
            found = client.get_experiment_by_name(name)
            if found is None:
                raise
    if found.lifecycle_stage == "deleted":
        raise AuditInputError(MLFLOW_EXPERIMENT_DELETED, name=name, uri=shown_uri(uri))
    return str(found.experiment_id)


def shown_uri(uri: str) -> str:
    """A tracking URI fit for a message or a CI log: a password in it (postgresql://user:pw@host/db) is masked."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


def _sql_errors() -> tuple[type[Exception], ...]:
    """SQLAlchemy's errors (an SQL store MLflow could not open), when SQLAlchemy is installed."""
    try:
        from sqlalchemy.exc import SQLAlchemyError
    except ImportError:
        return ()
    return (SQLAlchemyError,)


def _fail(client: Any, run_id: str | None) -> None:
    """Mark a run that could not be completed FAILED, if it was created and the store still answers."""
    if run_id is None:
        return
    with contextlib.suppress(Exception):  # the first error is the one to report
        client.set_terminated(run_id, "FAILED")


def _chunks(items: Sequence[_T], size: int) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _clip(text: str) -> str:
    """A tag value within MLflow's length limit."""
    return text if len(text) <= _TAG_MAX else text[:_TAG_MAX - 1] + "…"


def _one_line(text: str) -> str:
    return " ".join(str(text).split())
