"""One interface for mapping a function over chunks of rows: in-process, local processes, or Dask.

Per-decision explanations are independent from row to row, so they are computed
chunk by chunk. Where the chunks run is a deployment choice, not a numerical
one: the chunk layout is fixed by :func:`row_chunks` (it depends only on the
number of rows and the chunk size), each chunk is computed by the same function
with the same inputs, and results are put back in chunk order. A run on local
processes, in-process, or on a Dask cluster therefore gives identical numbers.

- :class:`InlineExecutor`: in this process (small jobs, where starting workers costs more than it saves).
- :class:`ProcessExecutor`: local worker processes (loky, reused between calls; 2 by default).
- :class:`DaskExecutor`: a ``dask.distributed`` scheduler at an address (``ctx.scheduler``).

Progress is reported through a ``(task, done, total)`` callback as chunks finish.
What is sent to workers (the function and the shared input) is pickled once first; when
that fails (a model holding a lock, an open handle), the chunks run in-process instead and
the executor says so: its ``note`` holds one line, and its ``name`` (which results report) says
"in-process" and why.
Worker processes are limited to one thread each (OpenMP, BLAS), so two workers on
two cores do not oversubscribe them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

__all__ = [
    "ChunkExecutor",
    "InlineExecutor",
    "ProcessExecutor",
    "DaskExecutor",
    "make_executor",
    "row_chunks",
    "unsendable",
    "DEFAULT_WORKERS",
]

T = TypeVar("T")
R = TypeVar("R")
Progress = Callable[[str, int, int], None]

DEFAULT_WORKERS = 2
_SINGLE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _quiet(task: str, done: int, total: int) -> None:
    return None


def unsendable(fn: Callable[..., Any], common: Any) -> str | None:
    """Why ``fn`` and ``common`` cannot be sent to worker processes (one line), or None when they can.

    They are pickled the way loky sends them (its pickler: cloudpickle when installed, which also takes
    lambdas; Dask tries pickle, then cloudpickle, the same).
    """
    import pickle

    from joblib.externals.loky.backend.reduction import dumps

    try:
        dumps((fn, common))
    except (pickle.PicklingError, TypeError, AttributeError) as exc:  # what pickle and cloudpickle raise on an object they cannot take
        text = (str(exc).strip().splitlines() or [""])[0]
        return f"{type(exc).__name__}: {text}"
    return None


def _fallback_note(where: str, reason: str) -> tuple[str, str]:
    """The note and the executor's name when the work runs in-process because it cannot be sent to ``where``."""
    why = f"the model cannot be sent to {where} ({reason})"
    return f"ran in-process: {why}", f"in-process: {why}"


def row_chunks(n_rows: int, *, size: int) -> list[slice]:
    """Fixed, contiguous row ranges of at most ``size`` rows covering ``0..n_rows``."""
    size = max(1, int(size))
    return [slice(start, min(start + size, n_rows)) for start in range(0, n_rows, size)]


class ChunkExecutor(Protocol):
    """Maps ``fn(common, item)`` over ``items``; returns results in the order of ``items``."""

    name: str
    note: str  # one line when the chunks ran elsewhere than asked (e.g. in-process), else ""

    def map(self, fn: Callable[[Any, T], R], common: Any, items: Sequence[T], *, task: str = "",
            progress: Progress = _quiet) -> list[R]: ...


class InlineExecutor:
    """Runs every chunk in this process, one after the other."""

    name = "in-process"
    note = ""

    def map(self, fn: Callable[[Any, T], R], common: Any, items: Sequence[T], *, task: str = "",
            progress: Progress = _quiet) -> list[R]:
        """Apply ``fn`` to each item in turn, reporting progress after each."""
        out = []
        for i, item in enumerate(items):
            out.append(fn(common, item))
            progress(task, i + 1, len(items))
        return out


class ProcessExecutor:
    """Local worker processes (loky, reused across calls so workers import their libraries once)."""

    def __init__(self, *, workers: int = DEFAULT_WORKERS) -> None:
        self.workers = workers
        self.name = f"local processes ({workers})"
        self.note = ""  # one line when the work ran in-process because it could not be sent to the workers

    def map(self, fn: Callable[[Any, T], R], common: Any, items: Sequence[T], *, task: str = "",
            progress: Progress = _quiet) -> list[R]:
        """Submit one task per item to the worker pool; collect results in item order.

        When ``fn`` and ``common`` cannot be pickled, or a worker cannot unpickle them (a module of the
        model's own code that was imported from the spec's folder is not on the workers' path), every
        item runs in this process instead (same results), and ``note`` and ``name`` say so.
        """
        from concurrent.futures import as_completed

        from joblib.externals.loky import get_reusable_executor
        from joblib.externals.loky.process_executor import BrokenProcessPool

        reason = unsendable(fn, common) if items else None
        if reason is not None:
            self.note, self.name = _fallback_note("worker processes", reason)
            return InlineExecutor().map(fn, common, items, task=task, progress=progress)
        pool = get_reusable_executor(max_workers=self.workers, timeout=120, env=_SINGLE_THREAD_ENV)
        futures = {pool.submit(fn, common, item): i for i, item in enumerate(items)}
        results: list[Any] = [None] * len(items)
        try:
            for done, future in enumerate(as_completed(futures), start=1):
                results[futures[future]] = future.result()
                progress(task, done, len(items))
        except BrokenProcessPool as exc:
            if "un-serialize" not in str(exc):
                raise
            self.note, self.name = _fallback_note("worker processes", f"a worker could not load it: {_cause(exc)}")
            return InlineExecutor().map(fn, common, items, task=task, progress=progress)
        return results


def _cause(exc: BaseException) -> str:
    """The last line of the error behind ``exc`` (loky puts the worker's traceback there)."""
    lines = [line.strip() for line in str(exc.__cause__ or exc).splitlines() if line.strip().strip('"')]
    return lines[-1] if lines else type(exc).__name__


class DaskExecutor:
    """Chunks run on a ``dask.distributed`` cluster; the shared input is scattered to every worker once.

    The workers need this package and the model's libraries installed (same versions as here).
    """

    def __init__(self, *, address: str) -> None:
        self.address = address
        self.name = f"dask ({address})"
        self.note = ""  # as ProcessExecutor.note

    def map(self, fn: Callable[[Any, T], R], common: Any, items: Sequence[T], *, task: str = "",
            progress: Progress = _quiet) -> list[R]:
        """Scatter ``common``, submit one task per item, gather in item order (in-process when unpicklable)."""
        reason = unsendable(fn, common) if items else None
        if reason is not None:
            self.note, self.name = _fallback_note("Dask workers", reason)
            return InlineExecutor().map(fn, common, items, task=task, progress=progress)
        from distributed import Client, as_completed

        with Client(self.address, set_as_default=False, timeout="30s") as client:
            shared = client.scatter(common, broadcast=True, hash=False)
            run = uuid.uuid4().hex[:12]
            futures = [client.submit(fn, shared, item, pure=False, key=f"{task or 'chunk'}-{run}-{i}")
                       for i, item in enumerate(items)]
            index = {f.key: i for i, f in enumerate(futures)}
            results: list[Any] = [None] * len(items)
            for done, future in enumerate(as_completed(futures, loop=client.loop), start=1):
                results[index[future.key]] = future.result()
                progress(task, done, len(items))
            return results


def make_executor(*, scheduler: str | None = None, n_chunks: int, workers: int = DEFAULT_WORKERS,
                  min_chunks_for_processes: int = 2) -> ChunkExecutor:
    """The executor for a job of ``n_chunks`` chunks.

    A Dask scheduler address wins when given. Otherwise jobs with fewer than
    ``min_chunks_for_processes`` chunks run in-process (starting workers would
    cost more than it saves), and larger ones on ``workers`` local processes.
    """
    if scheduler:
        return DaskExecutor(address=scheduler)
    if n_chunks < min_chunks_for_processes or workers < 2:
        return InlineExecutor()
    return ProcessExecutor(workers=workers)
