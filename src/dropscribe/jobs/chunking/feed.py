"""Chunks handed to the job's run while the rest of the recording is still being prepared.

:class:`Preparation` runs the worker (:func:`dropscribe.jobs.chunking.uploads.prepare`)
on a thread of its own. Each part the worker announces is saved in the store
at once (a pending chunk of a plan whose name says it is unfinished) and put
on the :class:`ChunkFeed`, where :class:`dropscribe.jobs.chunking.run.ChunkRun`
takes it and sends it. When the worker ends, the plan gets its real name; a
restart that finds an unfinished plan keeps its chunks (those sent are polled,
never sent again) and has the worker go on after the last of them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future

import structlog

from dropscribe.errors import BadInput, Retryable
from dropscribe.jobs.chunking.uploads import Manifest, Part, Resume
from dropscribe.jobs.states import ChunkState
from dropscribe.jobs.store import Store
from dropscribe.jobs.store.chunks import Chunk

log = structlog.get_logger("dropscribe.jobs.chunks")

#: The plan name of chunks whose preparation has not ended yet.
UNFINISHED = "unfinished:"

#: Runs the worker: ``(resume, on_part, cancel) -> manifest`` (raises as ``prepare`` does).
Prepare = Callable[[Resume | None, Callable[[Part], None], threading.Event], Manifest]


class ChunkFeed:
    """Chunks arriving from another thread, and a future that is done when any did."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._arrived: list[Chunk] = []
        self._closed = False
        self.error: BadInput | Retryable | None = None
        self._signal: Future[None] = Future()

    def put(self, chunk: Chunk) -> None:
        with self._lock:
            self._arrived.append(chunk)
            self._wake()

    def close(self, error: BadInput | Retryable | None = None) -> None:
        """No more chunks will come (``error``: the preparation failed)."""
        with self._lock:
            self._closed, self.error = True, error
            self._wake()

    def take(self) -> list[Chunk]:
        """Return the chunks that arrived since the last call."""
        with self._lock:
            arrived, self._arrived = self._arrived, []
            if self._signal.done() and not self._closed:
                self._signal = Future()
            return arrived

    @property
    def signal(self) -> Future[None]:
        """Done once a chunk arrived or the feed closed (wait on it with the chunks')."""
        with self._lock:
            return self._signal

    @property
    def open(self) -> bool:
        """Whether more chunks may still come."""
        with self._lock:
            return not self._closed or bool(self._arrived)

    def _wake(self) -> None:
        if not self._signal.done():
            self._signal.set_result(None)


class Incoming:
    """A job's chunks as its run sees them: those known, and those still to arrive.

    ``on_planned`` hears the chunks not done yet and their bytes, each time more come.
    """

    def __init__(
        self,
        chunks: list[Chunk],
        feed: ChunkFeed | None,
        on_planned: Callable[[int, int], None] | None = None,
    ) -> None:
        self.known, self.feed, self.on_planned = list(chunks), feed, on_planned
        self._planned()

    def arrived(self) -> list[Chunk]:
        """Return the chunks prepared since the last call."""
        arrived = self.feed.take() if self.feed is not None else []
        if arrived:
            self.known.extend(arrived)
            self._planned()
        return arrived

    @property
    def error(self) -> BadInput | Retryable | None:
        return self.feed.error if self.feed is not None else None

    @property
    def expecting(self) -> bool:
        """Whether more chunks may still come."""
        return self.feed is not None and self.feed.open

    def signals(self) -> list[Future[None]]:
        """What to wait on, besides the chunks running, to hear of the next arrival."""
        return [self.feed.signal] if self.feed is not None and self.feed.open else []

    def _planned(self) -> None:
        if self.on_planned is not None:
            left = [c for c in self.known if c.state != ChunkState.DONE]
            self.on_planned(len(left), sum(c.bytes for c in left))


class Preparation:
    """The worker preparing a job's chunks, saving and feeding each as it comes."""

    def __init__(
        self,
        store: Store,
        job_id: int,
        plan: str,
        prepare: Prepare,
        resume: Resume | None = None,
        on_manifest: Callable[[Manifest, int], None] | None = None,
    ) -> None:
        self.store, self.job_id, self.plan = store, job_id, plan
        self.feed = ChunkFeed()
        self.cancel = threading.Event()
        self._prepare, self._resume, self._on_manifest = prepare, resume, on_manifest
        self._count = resume.index if resume else 0
        self._thread = threading.Thread(target=self._run, name=f"prepare-{job_id}", daemon=True)

    def start(self) -> Preparation:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the worker if it is still going, and wait for the thread."""
        self.cancel.set()
        self._thread.join()

    def _run(self) -> None:
        try:
            manifest = self._prepare(self._resume, self._save, self.cancel)
            for part in manifest.parts:
                if part.index >= self._count:  # written without announcing (a whole file)
                    self._save(part)
        except (BadInput, Retryable) as exc:
            self.feed.close(None if self.cancel.is_set() else exc)
            return
        except BaseException as exc:
            self.feed.close(Retryable(f"Preparing the upload failed ({exc})."))
            raise
        self.store.chunks.name_plan(self.job_id, self.plan)
        if self._on_manifest is not None:
            self._on_manifest(manifest, self._count)
        self.feed.close()

    def _save(self, part: Part) -> None:
        saved = self.store.chunks.add(self.job_id, part.index, UNFINISHED + self.plan, part)
        self._count = part.index + 1
        log.info(
            "chunk_prepared", job=self.job_id, chunk=part.index, span=part.label(), bytes=part.bytes
        )
        self.feed.put(saved)
