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
    "DEFAULT_WORKERS",
]

T = TypeVar("T")
R = TypeVar("R")
Progress = Callable[[str, int, int], None]

DEFAULT_WORKERS = 2
_SINGLE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _quiet(task: str, done: int, total: int) -> None:
    return None


def row_chunks(n_rows: int, *, size: int) -> list[slice]:
    """Fixed, contiguous row ranges of at most ``size`` rows covering ``0..n_rows``."""
    size = max(1, int(size))
    return [slice(start, min(start + size, n_rows)) for start in range(0, n_rows, size)]


class ChunkExecutor(Protocol):
    """Maps ``fn(common, item)`` over ``items``; returns results in the order of ``items``."""

    name: str

    def map(self, fn: Callable[[Any, T], R], common: Any, items: Sequence[T], *, task: str = "",
            progress: Progress = _quiet) -> list[R]: ...


class InlineExecutor:
    """Runs every chunk in this process, one after the other."""

    name = "in-process"

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

    def map(self, fn: Callable[[Any, T], R], common: Any, items: Sequence[T], *, task: str = "",
            progress: Progress = _quiet) -> list[R]:
        """Submit one task per item to the worker pool; collect results in item order."""
        from concurrent.futures import as_completed

        from joblib.externals.loky import get_reusable_executor

        pool = get_reusable_executor(max_workers=self.workers, timeout=120, env=_SINGLE_THREAD_ENV)
        futures = {pool.submit(fn, common, item): i for i, item in enumerate(items)}
        results: list[Any] = [None] * len(items)
        for done, future in enumerate(as_completed(futures), start=1):
            results[futures[future]] = future.result()
            progress(task, done, len(items))
        return results


class DaskExecutor:
    """Chunks run on a ``dask.distributed`` cluster; the shared input is scattered to every worker once.

    The workers need this package and the model's libraries installed (same versions as here).
    """

    def __init__(self, *, address: str) -> None:
        self.address = address
        self.name = f"dask ({address})"

    def map(self, fn: Callable[[Any, T], R], common: Any, items: Sequence[T], *, task: str = "",
            progress: Progress = _quiet) -> list[R]:
        """Scatter ``common``, submit one task per item, gather in item order."""
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
