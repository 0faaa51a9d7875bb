"""Idempotency records for Powertools' idempotency utility, kept in SQLite (the local stack).

In AWS the upload Lambda uses Powertools' own ``DynamoDBPersistenceLayer``; locally there is
no DynamoDB, and Powertools ships no file-backed layer, so this one implements its
``BasePersistenceLayer`` with the same semantics: a record may be (re)written only when none
exists, when it has expired, or when it is INPROGRESS past its in-progress expiry: exactly
the DynamoDB layer's condition, here inside an immediate transaction.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
from pathlib import Path

from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import STATUS_CONSTANTS, DataRecord

from etl_lib.jobs.local import create_sqlite, sqlite_connection

_SCHEMA = """
CREATE TABLE IF NOT EXISTS idempotency (
    id                     TEXT PRIMARY KEY,
    status                 TEXT NOT NULL,
    expiration             INTEGER NOT NULL,
    in_progress_expiration INTEGER,
    data                   TEXT,
    validation             TEXT
);
"""


class SqliteIdempotencyStore(BasePersistenceLayer):
    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self.path = create_sqlite(path, _SCHEMA)

    def _connect(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        return sqlite_connection(self.path)

    def _get_record(self, idempotency_key: str) -> DataRecord:
        with self._connect() as db:
            row = db.execute(
                "SELECT status, expiration, in_progress_expiration, data, validation FROM idempotency WHERE id = ?",
                (idempotency_key,),
            ).fetchone()
        if row is None:
            raise IdempotencyItemNotFoundError
        return DataRecord(
            idempotency_key=idempotency_key,
            status=row[0],
            expiry_timestamp=row[1],
            in_progress_expiry_timestamp=row[2],
            response_data=row[3] or "",
            payload_hash=row[4] or "",
        )

    def _put_record(self, data_record: DataRecord) -> None:
        now = dt.datetime.now().timestamp()
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                row = db.execute(
                    "SELECT status, expiration, in_progress_expiration FROM idempotency WHERE id = ?",
                    (data_record.idempotency_key,),
                ).fetchone()
                if row is not None and not _replaceable(row, now):
                    db.execute("ROLLBACK")
                    raise IdempotencyItemAlreadyExistsError()
                db.execute(
                    "INSERT OR REPLACE INTO idempotency "
                    "(id, status, expiration, in_progress_expiration, data, validation) VALUES (?, ?, ?, ?, NULL, ?)",
                    (
                        data_record.idempotency_key,
                        data_record.status,
                        data_record.expiry_timestamp,
                        data_record.in_progress_expiry_timestamp,
                        data_record.payload_hash if self.payload_validation_enabled else None,
                    ),
                )
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise

    def _update_record(self, data_record: DataRecord) -> None:
        with self._connect() as db:
            db.execute(
                "UPDATE idempotency SET data = ?, expiration = ?, status = ?, validation = ? WHERE id = ?",
                (
                    data_record.response_data,
                    data_record.expiry_timestamp,
                    data_record.status,
                    data_record.payload_hash if self.payload_validation_enabled else None,
                    data_record.idempotency_key,
                ),
            )

    def _delete_record(self, data_record: DataRecord) -> None:
        with self._connect() as db:
            db.execute("DELETE FROM idempotency WHERE id = ?", (data_record.idempotency_key,))


def _replaceable(row: tuple[str, int, int | None], now: float) -> bool:
    """DynamoDBPersistenceLayer's put condition: expired, or INPROGRESS past its own expiry."""
    status, expiration, in_progress_expiration = row
    if expiration < int(now):
        return True
    return (
        status == STATUS_CONSTANTS["INPROGRESS"]
        and in_progress_expiration is not None
        and in_progress_expiration < int(now * 1000)
    )
