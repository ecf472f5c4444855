"""The schema as its migrations: entry ``n - 1`` takes a database from version ``n - 1`` to ``n``.

Only ever append: an appliance upgraded in place runs the entries it has not seen
(``edge.store.db.migrate``), so an entry once released is never edited.
"""
from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: the first schema
    """
    CREATE TABLE orders (
        id TEXT PRIMARY KEY,
        camera TEXT,
        status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'served', 'cancelled')),
        received_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        source TEXT NOT NULL DEFAULT 'api'
    );
    CREATE TABLE order_lines (
        order_id TEXT NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
        line_no INTEGER NOT NULL,
        sku TEXT NOT NULL,
        qty INTEGER NOT NULL CHECK (qty > 0),
        PRIMARY KEY (order_id, line_no)
    );
    CREATE TABLE trays (
        id INTEGER PRIMARY KEY,
        camera TEXT NOT NULL,
        run TEXT NOT NULL,
        seq INTEGER NOT NULL,
        order_id TEXT,
        rest_t REAL,
        verdict TEXT,
        seen TEXT NOT NULL DEFAULT '{}',
        expected TEXT NOT NULL DEFAULT '{}',
        snapshot TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        UNIQUE (camera, run, seq)
    );
    CREATE INDEX trays_order ON trays(order_id);
    CREATE INDEX trays_created ON trays(created_at);
    CREATE TABLE verdicts (
        id TEXT PRIMARY KEY,
        tray_id INTEGER NOT NULL REFERENCES trays(id) ON DELETE CASCADE,
        camera TEXT NOT NULL,
        order_id TEXT,
        verdict TEXT NOT NULL,
        video_t REAL NOT NULL,
        at TEXT NOT NULL,
        confidence REAL,
        record TEXT NOT NULL
    );
    CREATE INDEX verdicts_tray ON verdicts(tray_id);
    CREATE INDEX verdicts_at ON verdicts(at);
    CREATE TABLE alerts (
        id INTEGER PRIMARY KEY,
        tray_id INTEGER NOT NULL REFERENCES trays(id) ON DELETE CASCADE,
        camera TEXT NOT NULL,
        order_id TEXT,
        state TEXT NOT NULL CHECK (state IN ('open', 'acknowledged', 'resolved')),
        opened_at TEXT NOT NULL,
        closed_at TEXT,
        closed_by TEXT,
        detail TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX alerts_state ON alerts(state, opened_at);
    CREATE TABLE outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        msg_id TEXT NOT NULL UNIQUE,
        topic TEXT NOT NULL,
        payload TEXT NOT NULL,
        qos INTEGER NOT NULL DEFAULT 1,
        retain INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL
    );
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT,
        detail TEXT NOT NULL DEFAULT '{}'
    );
    """,
    # 2: dashboard users (slow salted password hashes) and the indexes its pages query by
    """
    CREATE TABLE users (
        name TEXT PRIMARY KEY,
        role TEXT NOT NULL CHECK (role IN ('viewer', 'manager')),
        password_hash TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX trays_camera_created ON trays(camera, created_at);
    CREATE INDEX alerts_opened ON alerts(opened_at);
    CREATE INDEX alerts_tray ON alerts(tray_id);
    CREATE INDEX orders_status ON orders(status, received_at)
    """,
    # 3: learning from the live box: the detector's boxes of each tray's snapshot (JSON, crop pixels, with the
    # class names of the model that drew them) and the manager's "counted wrong" flag
    """
    ALTER TABLE trays ADD COLUMN boxes TEXT;
    ALTER TABLE trays ADD COLUMN flagged_at TEXT;
    ALTER TABLE trays ADD COLUMN flagged_by TEXT;
    ALTER TABLE trays ADD COLUMN flag_note TEXT
    """,
    # 4: orders the box gave up on (expired unserved, set aside by a new menu) are 'cancelled' with the reason
    """
    ALTER TABLE orders ADD COLUMN closed_reason TEXT
    """,
    # 5: server-side dashboard sessions (revocable: logout, password or role change, a disabled user);
    # ``id`` is the SHA-256 of the cookie, so the database alone cannot sign anyone in. Times are unix seconds.
    """
    CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        user TEXT NOT NULL,
        created REAL NOT NULL,
        last_seen REAL NOT NULL,
        expires REAL NOT NULL
    );
    CREATE INDEX sessions_user ON sessions(user);
    ALTER TABLE users ADD COLUMN disabled_at TEXT
    """,
    # 6: failed dashboard sign-ins of the last minutes (``edge.web.login_limits``), so that a restart does not
    # reset the login limit; ``account`` is the name tried (case-folded), ``client`` the address, ``at`` unix seconds
    """
    CREATE TABLE signin_failures (
        id INTEGER PRIMARY KEY,
        account TEXT NOT NULL,
        client TEXT NOT NULL,
        at REAL NOT NULL
    );
    CREATE INDEX signin_failures_client ON signin_failures(client, account);
    CREATE INDEX signin_failures_at ON signin_failures(at)
    """,
]
