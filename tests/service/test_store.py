"""The job store on SQLite and PostgreSQL: migrations, FIFO by priority, claims that never double-assign."""

from __future__ import annotations

import threading

from service.db import MIGRATIONS, Store


def test_migrations_are_versioned_and_idempotent(db_url):
    store = Store(db_url)
    again = Store(db_url)
    assert store.schema_version() == again.schema_version() == max(v for v, _, _ in MIGRATIONS)
    rows = store.execute("SELECT COUNT(*) FROM schema_migrations").fetchone()[0]
    assert rows == len(MIGRATIONS)


def test_fifo_by_priority(db_url):
    store = Store(db_url)
    low, _ = store.submit(spec="x", base_dir="/", priority=0)
    high, _ = store.submit(spec="x", base_dir="/", priority=5)
    low2, _ = store.submit(spec="x", base_dir="/", priority=0)
    order = [store.claim("w", 30).id for _ in range(3)]
    assert order == [high.id, low.id, low2.id]
    assert store.claim("w", 30) is None


def test_concurrent_claims_never_double_assign(db_url):
    store = Store(db_url)
    ids = {store.submit(spec="x", base_dir="/")[0].id for _ in range(60)}
    claimed: list[tuple[str, int]] = []
    lock = threading.Lock()

    def worker(name: str) -> None:
        mine = Store(db_url)
        while (job := mine.claim(name, 30)) is not None:
            with lock:
                claimed.append((name, job.id))
        mine.close()

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(i for _, i in claimed) == sorted(ids)  # each job exactly once
    # Only the owner may finish a job, and only once.
    name, job_id = claimed[0]
    assert not store.finish(job_id, "someone-else", "succeeded")
    assert store.finish(job_id, name, "succeeded")
    assert not store.finish(job_id, name, "failed")
    assert store.get(job_id).state == "succeeded"


def test_tokens_store_only_a_hash(db_url):
    store = Store(db_url)
    token = store.create_token("ci")
    assert store.check_token(token) == "ci" and store.check_token(token + "x") is None
    stored = store.execute("SELECT hash FROM tokens").fetchone()[0]
    assert token not in stored and len(stored) == 64


def test_client_key_makes_a_resubmission_return_the_same_job(db_url):
    store = Store(db_url)
    first, created = store.submit(spec="x", base_dir="/", client_key="k1")
    again, created_again = store.submit(spec="x", base_dir="/", client_key="k1")
    other, _ = store.submit(spec="x", base_dir="/")
    assert created and not created_again and again.id == first.id and other.id != first.id
    assert store.counts()["queued"] == 2
