-- airseal seat store, schema version 1.
-- Portable SQL: runs unchanged on SQLite (3.35+) and PostgreSQL (12+).
-- Times are BIGINT nanoseconds since 1970-01-01 UTC, NULL for "none".
-- BYTEA is PostgreSQL's binary type; SQLite gives the column NUMERIC
-- affinity, which stores a bound blob as it is.

CREATE TABLE licenses (
    serial    TEXT PRIMARY KEY,
    raw       BYTEA NOT NULL,
    itn       TEXT NOT NULL,
    iec       TEXT NOT NULL,
    installed BIGINT
);

CREATE TABLE leases (
    id              TEXT PRIMARY KEY,
    product         TEXT NOT NULL,
    session_id      TEXT NOT NULL,
    app_name        TEXT NOT NULL,
    user_name       TEXT NOT NULL,
    computer_name   TEXT NOT NULL,
    session_started BIGINT,
    mode            TEXT NOT NULL,
    granted         BIGINT,
    expires         BIGINT,
    lost            TEXT NOT NULL,
    -- what the seat is counted by: 's:'||id per session, 'c:'||computer
    -- per computer (seatstore.Grant)
    seat_key        TEXT NOT NULL
);

CREATE TABLE tokens (
    name    TEXT PRIMARY KEY,
    role    TEXT NOT NULL,
    sha256  BYTEA NOT NULL,
    created BIGINT
);

CREATE TABLE devices (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    app         TEXT NOT NULL,
    ip          TEXT NOT NULL,
    registered  BIGINT,
    state       TEXT NOT NULL,
    decided     BIGINT,
    decided_by  TEXT NOT NULL,
    key_no      TEXT NOT NULL,
    demo_limits TEXT NOT NULL  -- JSON array of license.Feature, '' for none
);

CREATE TABLE settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- The usage log: append-only, numbered from 1 without gaps, hash-chained
-- (seatstore.ChainHash).
CREATE TABLE events (
    seq        BIGINT PRIMARY KEY,
    at         BIGINT NOT NULL,
    kind       TEXT NOT NULL,
    product    TEXT NOT NULL,
    lease_id   TEXT NOT NULL,
    session_id TEXT NOT NULL,
    user_name  TEXT NOT NULL,
    detail     TEXT NOT NULL,
    hash       BYTEA NOT NULL
);

-- One row: the next Seq and the hash of the last entry (NULL: none yet).
-- Every transaction that appends to the log updates it, which orders the
-- appends of several nodes.
CREATE TABLE log_head (
    id       INTEGER PRIMARY KEY,
    next_seq BIGINT NOT NULL,
    hash     BYTEA
);
INSERT INTO log_head (id, next_seq) VALUES (1, 1);

-- Seats in use, kept by the store beside the leases so that a Grant
-- decides in constant time: seat_holds counts the leases (not lost) that
-- share each seat key, seat_products.in_use the seat keys of a product.
-- The seat_products row is also the lock a Grant takes (PostgreSQL), so
-- that two nodes never count the same product's seats at once.
CREATE TABLE seat_products (
    product TEXT PRIMARY KEY,
    in_use  BIGINT NOT NULL
);
CREATE TABLE seat_holds (
    product  TEXT NOT NULL,
    seat_key TEXT NOT NULL,
    leases   BIGINT NOT NULL,
    PRIMARY KEY (product, seat_key)
);
