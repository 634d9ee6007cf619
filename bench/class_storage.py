"""A class storing answers at once: ``--writers`` writers, released together, each storing
``--each`` answers one by one through model.classroom.storage, on a fresh SQLite file and on a throwaway
PostgreSQL server (tests/postgres.py). PASS when every row arrives (60 x 20 = 1,200).

    .venv/bin/python bench/class_storage.py                      # 60 threads x 20, both databases
    .venv/bin/python bench/class_storage.py --processes          # 60 processes (60 app servers)
    .venv/bin/python bench/class_storage.py --db URL             # an existing database (emptied first)
"""
from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from model.classroom.storage import Answer, Storage, new_session  # noqa: E402
from tests.postgres import PostgresUnavailable, postgres_server  # noqa: E402


def _answers(seed: int, each: int) -> list[Answer]:
    rng = np.random.default_rng(seed)
    session = new_session()
    out = []
    for i in range(each):
        p = rng.dirichlet(np.ones(10)).astype(np.float32)
        out.append(Answer(image=rng.random((28, 28), dtype=np.float32), label=i % 10, session=session,
                          predicted=int(p.argmax()), probabilities=p, model="cnn", model_version="bench",
                          ink=rng.integers(0, 256, (64, 40), dtype=np.uint8)))
    return out


def _write(storage: Storage, answers: list[Answer], start, times: list[float]) -> None:
    start.wait()
    for answer in answers:
        t0 = time.perf_counter()
        storage.add(answer)
        times.append((time.perf_counter() - t0) * 1000)


def _process_writer(url: str, seed: int, each: int, start, queue) -> None:
    storage = Storage(url)
    times: list[float] = []
    try:
        _write(storage, _answers(seed, each), start, times)
        queue.put(("ok", times))
    except Exception as e:  # noqa: BLE001 - reported by the parent
        queue.put(("error", f"{type(e).__name__}: {e}"))


def run(url: str, writers: int, each: int, processes: bool) -> dict:
    storage = Storage(url)
    storage.delete_all()
    errors: list[str] = []
    times: list[float] = []
    t0 = time.perf_counter()
    if processes:
        context = multiprocessing.get_context("spawn")
        start, queue = context.Barrier(writers + 1), context.Queue()
        workers = [context.Process(target=_process_writer, args=(url, k, each, start, queue))
                   for k in range(writers)]
        for w in workers:
            w.start()
        start.wait()
        t0 = time.perf_counter()
        for _ in workers:
            status, value = queue.get(timeout=600)
            (times.extend if status == "ok" else errors.append)(value)
        for w in workers:
            w.join()
    else:
        start = threading.Barrier(writers)

        def thread_writer(k: int) -> None:
            try:
                _write(storage, _answers(k, each), start, times)
            except Exception as e:  # noqa: BLE001
                errors.append(f"{type(e).__name__}: {e}")

        threads = [threading.Thread(target=thread_writer, args=(k,)) for k in range(writers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    seconds = time.perf_counter() - t0
    rows = storage.count()
    sessions = len(set(storage.answers().sessions.tolist()))
    storage.close()
    return {"rows": rows, "expected": writers * each, "sessions": sessions, "errors": errors,
            "seconds": seconds, "median_ms": float(np.median(times)) if times else float("nan"),
            "p95_ms": float(np.percentile(times, 95)) if times else float("nan")}


def report(name: str, result: dict) -> bool:
    ok = result["rows"] == result["expected"] and not result["errors"]
    print(f"{name}: {result['rows']}/{result['expected']} rows from {result['sessions']} sessions in "
          f"{result['seconds']:.2f} s; one answer median {result['median_ms']:.1f} ms, p95 "
          f"{result['p95_ms']:.1f} ms; {len(result['errors'])} errors -> {'PASS' if ok else 'FAIL'}")
    for e in result["errors"][:5]:
        print("   ", e)
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writers", type=int, default=60)
    parser.add_argument("--each", type=int, default=20)
    parser.add_argument("--processes", action="store_true", help="one process a writer, not one thread")
    parser.add_argument("--db", default=None, help="only this database URL (its answers are deleted first)")
    args = parser.parse_args(argv)
    mode = f"{args.writers} {'processes' if args.processes else 'threads'} x {args.each}"
    ok = True
    if args.db:
        return 0 if report(f"{args.db.split(':')[0]} ({mode})", run(args.db, args.writers, args.each, args.processes)) else 1
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/class.sqlite3"
        ok &= report(f"SQLite WAL ({mode})", run(url, args.writers, args.each, args.processes))
    try:
        with postgres_server() as url:
            ok &= report(f"PostgreSQL ({mode})", run(url, args.writers, args.each, args.processes))
    except PostgresUnavailable as e:
        print(f"PostgreSQL: skipped ({e})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
