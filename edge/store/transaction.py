"""Transactions on the store's connections.

Every connection of the store is opened in autocommit mode (``isolation_level=None``):
a lone statement commits at once, and writes that must land together run inside
``transaction``. One explicit helper instead of the ``sqlite3`` module's implicit
transactions, whose start and end depend on the kind of statement.
"""
from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def transaction(conn: sqlite3.Connection, immediate: bool = False) -> Iterator[None]:
    """Commit the block's statements together, or none of them when it raises.

    ``immediate`` takes the write lock at the start (``BEGIN IMMEDIATE``): for a block that reads a value
    another process may be about to change (a migration reading the schema version). A failed COMMIT (a
    full disk) rolls back too, so the connection is never left inside a transaction nobody will end. Not
    nestable: SQLite refuses a BEGIN inside a transaction, before anything here is rolled back."""
    conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
    try:
        yield
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
