"""The SQLite gradebook: one row per (submission, assignment), written as each result finishes.

Schema (``--db grades.sqlite``)::

    results(submission TEXT, assignment TEXT, content_hash TEXT, score REAL, max_score REAL,
            graded_at TEXT, result_json TEXT, PRIMARY KEY (submission, assignment))

``result_json`` is the Gradescope object for that submission. Each result is committed in its own
transaction (WAL journal, ``synchronous=FULL``): a grader killed at any moment leaves every recorded
result intact and no half-written row. A submission whose content hash is already recorded is skipped
unless ``--regrade``.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    submission TEXT NOT NULL,
    assignment TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    score REAL NOT NULL,
    max_score REAL NOT NULL,
    graded_at TEXT NOT NULL,
    result_json TEXT NOT NULL,
    PRIMARY KEY (submission, assignment)
)"""


class Gradebook:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = sqlite3.connect(str(path), timeout=30, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute(SCHEMA)

    def known_hash(self, submission: str, assignment: str) -> str | None:
        row = self.db.execute("SELECT content_hash FROM results WHERE submission=? AND assignment=?",
                              (submission, assignment)).fetchone()
        return row[0] if row else None

    def record(self, submission: str, assignment: str, content_hash: str, result: dict[str, Any]) -> None:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.execute("INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?, ?, ?)",
                            (submission, assignment, content_hash, float(result["score"]),
                             float(result.get("max_score", 0)), time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                             json.dumps(result)))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def rows(self, assignment: str) -> list[dict[str, Any]]:
        cur = self.db.execute("SELECT submission, content_hash, score, max_score, result_json FROM results "
                              "WHERE assignment=? ORDER BY submission", (assignment,))
        return [{"submission": s, "content_hash": h, "score": sc, "max_score": m, "result": json.loads(j)}
                for s, h, sc, m, j in cur.fetchall()]

    def close(self) -> None:
        self.db.close()
