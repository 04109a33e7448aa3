from __future__ import annotations

import threading
from pathlib import Path

import pytest

from dropscribe.jobs.states import (
    CHUNK_PREDECESSORS,
    CHUNK_TRANSITIONS,
    PREDECESSORS,
    TRANSITIONS,
    ChunkState,
    JobState,
)
from dropscribe.jobs.store import Store, TransitionError
from dropscribe.jobs.store.chunks import NewChunk
from dropscribe.jobs.store.schema import MIGRATIONS


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def add(store: Store, path: str = "a.wav", sha: str = "1" * 64, backend: str = "local") -> int:
    job = store.add_job(
        path=path,
        sha256=sha,
        size=10,
        mtime=1.0,
        output_name=path[:-4],
        backend=backend,
        language="auto",
        task="transcribe",
        settings_key="k",
    )
    return job.id


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "state" / "jobs.sqlite3", clock=Clock())


def test_a_new_store_uses_wal_and_a_schema_version(store: Store, tmp_path: Path) -> None:
    assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    version = store._db.execute("PRAGMA user_version").fetchone()[0]
    assert version == len(MIGRATIONS)
    Store(store.path)  # opening again migrates nothing and fails on nothing


def test_only_the_transitions_of_the_lifecycle_are_allowed(store: Store) -> None:
    for old, allowed in TRANSITIONS.items():
        for new in JobState:
            job_id = add(store, path=f"{old}-{new}.wav")
            store._db.execute("UPDATE jobs SET state = ? WHERE id = ?", (str(old), job_id))
            if new in allowed:
                assert store.move(job_id, new).state == new
            else:
                with pytest.raises(TransitionError):
                    store.move(job_id, new)


def test_claim_takes_due_jobs_of_one_backend_up_to_the_limit(store: Store) -> None:
    ids = [add(store, path=f"{n}.wav") for n in range(4)]
    other = add(store, path="other.wav", backend="openai")
    for job_id in [*ids, other]:
        store.move(job_id, JobState.QUEUED, next_attempt_at=999.0)
    store.move(ids[3], JobState.SUBMITTING)
    store.move(ids[3], JobState.QUEUED, next_attempt_at=2000.0)  # not due yet
    claimed = store.claim("local", 2, now=1000.0)
    assert [job.id for job in claimed] == ids[:2]
    assert all(job.state == JobState.SUBMITTING and job.attempts == 1 for job in claimed)
    assert [job.id for job in store.claim("local", 5, now=1000.0)] == [ids[2]]


def test_interrupted_submissions_go_back_to_the_queue_and_futures_stay(store: Store) -> None:
    submitting, running = add(store, "s.wav"), add(store, "r.wav")
    for job_id in (submitting, running):
        store.move(job_id, JobState.QUEUED)
    store.claim("local", 2, now=1000.0)
    store.move(running, JobState.RUNNING, future={"remote_id": "x"})
    assert store.requeue_interrupted() == 1
    assert store.get(submitting).state == JobState.QUEUED
    assert store.get(running).future == {"remote_id": "x"}


def test_the_result_is_saved_before_the_job_moves_to_writing(store: Store) -> None:
    job_id = add(store)
    store.move(job_id, JobState.QUEUED)
    store.claim("local", 1, now=1000.0)
    store.move(job_id, JobState.RUNNING)
    job = store.save_result(job_id, {"segments": []})
    assert job.state == JobState.WRITING
    assert store.result_for(job.sha256, "k") == {"segments": []}


def test_retry_puts_failed_jobs_back_with_fresh_attempts(store: Store) -> None:
    failed, done = add(store, "f.wav"), add(store, "d.wav")
    store.move(failed, JobState.FAILED)
    store.move(done, JobState.QUEUED)
    assert store.retry(None) == [failed]
    job = store.get(failed)
    assert (job.state, job.attempts, job.finished_at) == (JobState.QUEUED, 0, None)
    assert store.retry([done]) == []


def test_the_store_says_which_sidecar_names_are_taken_and_by_whom(store: Store) -> None:
    # The naming rule itself (inbox/recording.py, outbox/naming.py) asks these two.
    add(store, "calls/a.wav")
    assert store.output_name_of("calls/a.wav") == "calls/a"
    assert store.output_name_of("calls/b.wav") is None
    assert store.output_name_taken("calls/a", "calls/a.mp3")
    assert not store.output_name_taken("calls/a", "calls/a.wav")


def test_readers_see_committed_jobs_while_the_daemon_writes(store: Store) -> None:
    reader = Store(store.path, readonly=True)
    stop = threading.Event()
    first_commit = threading.Event()

    def write() -> None:
        n = 0
        while not stop.is_set():
            add(store, f"w{n}.wav")
            first_commit.set()
            n += 1

    writer = threading.Thread(target=write)
    writer.start()
    try:
        # On a loaded machine the reads could all finish before the writer's first
        # commit; waiting for it makes the last read see at least one job.
        assert first_commit.wait(timeout=30), "the writer never committed"
        seen = [sum(reader.counts().values()) for _ in range(50)]
    finally:
        stop.set()
        writer.join()
    assert seen == sorted(seen) and seen[-1] > 0
    with pytest.raises(Exception, match="readonly"):
        reader._db.execute("DELETE FROM jobs")


def test_a_path_that_is_not_utf8_is_stored_losslessly_and_found_again(store: Store) -> None:
    path = "calls\udcff/bad-\udcff\udcfe-name.wav"  # how os.fsdecode hands such names over
    job = store.add_job(
        path=path,
        sha256="a" * 64,
        size=1,
        mtime=2.0,
        output_name="calls%FF/bad-%FF%FE-name",
        backend="local",
        language="auto",
        task="transcribe",
        settings_key="k",
    )
    assert store.get(job.id).path == path
    assert store.latest_for(path, "a" * 64) == store.get(job.id)
    assert store.known_files() == {path: (1, 2.0)}
    assert store.output_name_of(path) == "calls%FF/bad-%FF%FE-name"


def test_intake_marks_count_deaths_alone_and_are_forgotten(store: Store) -> None:
    store.mark_intake(["a.wav", "b\udcff.wav"])
    store.mark_intake(["b\udcff.wav"], alone=True)
    assert store.intake_marks() == {"a.wav": 0, "b\udcff.wav": 1}
    store.unmark_intake(["a.wav", "b\udcff.wav"])
    assert store.intake_marks() == {}


def test_claim_requeue_and_retry_obey_the_transition_table(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every state change goes through the one table: a table that forbids these
    moves stops the bulk moves too, not only ``move``."""
    queued, submitting, failed = add(store, "q.wav"), add(store, "s.wav"), add(store, "f.wav")
    store.move(queued, JobState.QUEUED, next_attempt_at=0.0)
    store.move(submitting, JobState.QUEUED, next_attempt_at=0.0)
    store.claim("local", 1, now=1000.0)  # q.wav is claimed, s.wav stays queued
    store.move(submitting, JobState.FAILED)
    store.move(failed, JobState.FAILED)
    import dropscribe.jobs.store.moves as module

    strict = dict(PREDECESSORS)
    strict[JobState.QUEUED] = frozenset()
    strict[JobState.SUBMITTING] = frozenset()
    monkeypatch.setattr(module, "PREDECESSORS", strict)
    assert store.requeue_interrupted() == 0
    assert store.retry(None) == []
    assert store.get(queued).state == JobState.SUBMITTING
    assert store.get(failed).state == JobState.FAILED
    monkeypatch.undo()
    assert store.requeue_interrupted() == 1
    monkeypatch.setattr(module, "PREDECESSORS", strict)
    assert store.claim("local", 5, now=1000.0) == []
    assert store.get(queued).state == JobState.QUEUED


def _one_chunk(store: Store) -> int:
    job_id = add(store, "long.wav")
    store.chunks.replace_plan(job_id, "plan", [NewChunk(0.0, 600.0, 0.0, 600.0, "0.opus", 10)])
    return job_id


def test_a_chunk_read_back_is_the_part_it_was_planned_as(store: Store) -> None:
    job_id = add(store, "long.wav")
    planned = NewChunk(590.5, 1200.5, 600.0, 1200.0, "1.opus", 10)
    store.chunks.replace_plan(job_id, "plan", [planned])
    (chunk,) = store.chunks.for_job(job_id)
    assert NewChunk(**{name: getattr(chunk, name) for name in vars(planned)}) == planned
    assert not chunk.at_pauses and chunk.label() == "9:50-20:00"


def test_a_chunk_moves_only_as_the_chunk_transition_table_allows(store: Store) -> None:
    job_id = _one_chunk(store)
    with pytest.raises(TransitionError, match="pending -> running"):
        store.chunks.move(job_id, 0, ChunkState.RUNNING, future={"remote_id": "r"})
    assert store.chunks.count_attempt(job_id, 0) == 1
    store.chunks.move(job_id, 0, ChunkState.RUNNING, future={"remote_id": "r"})
    store.chunks.move(job_id, 0, ChunkState.DONE, result={"segments": []}, error=None)
    (chunk,) = store.chunks.for_job(job_id)
    assert chunk.state is ChunkState.DONE and chunk.attempts == 1
    # A finished chunk is never sent again, whatever asks.
    with pytest.raises(TransitionError, match="done -> submitting"):
        store.chunks.count_attempt(job_id, 0)
    with pytest.raises(TransitionError, match="done -> pending"):
        store.chunks.move(job_id, 0, ChunkState.PENDING, future=None)
    assert store.chunks.for_job(job_id)[0].result == {"segments": []}


def test_every_chunk_state_is_in_the_table_and_done_is_final() -> None:
    assert set(CHUNK_TRANSITIONS) == set(ChunkState)
    assert CHUNK_TRANSITIONS[ChunkState.DONE] == frozenset()
    assert ChunkState.DONE not in CHUNK_PREDECESSORS[ChunkState.DONE]
