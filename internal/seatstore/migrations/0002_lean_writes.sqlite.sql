-- airseal seat store, schema version 2 (SQLite): fewer pages written per
-- commit, the same rows.
--
-- A lease is one row of one B-tree (WITHOUT ROWID: no rowid table beside
-- the primary-key index), the usage log's seq is the rowid (appending
-- writes one B-tree), and seat_holds keeps only shared seat keys (per
-- computer): a per-session key 's:'||id is held by its own lease alone,
-- so the store counts it from the lease row (seatstore.hold.implicit).

CREATE TABLE leases_v2 (
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
    seat_key        TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO leases_v2 SELECT id, product, session_id, app_name, user_name, computer_name, session_started, mode, granted, expires, lost, seat_key FROM leases;
DROP TABLE leases;
ALTER TABLE leases_v2 RENAME TO leases;

CREATE TABLE events_v2 (
    seq        INTEGER PRIMARY KEY,
    at         BIGINT NOT NULL,
    kind       TEXT NOT NULL,
    product    TEXT NOT NULL,
    lease_id   TEXT NOT NULL,
    session_id TEXT NOT NULL,
    user_name  TEXT NOT NULL,
    detail     TEXT NOT NULL,
    hash       BYTEA NOT NULL
);
INSERT INTO events_v2 SELECT seq, at, kind, product, lease_id, session_id, user_name, detail, hash FROM events ORDER BY seq;
DROP TABLE events;
ALTER TABLE events_v2 RENAME TO events;

CREATE TABLE seat_holds_v2 (
    product  TEXT NOT NULL,
    seat_key TEXT NOT NULL,
    leases   BIGINT NOT NULL,
    PRIMARY KEY (product, seat_key)
) WITHOUT ROWID;
INSERT INTO seat_holds_v2 SELECT h.product, h.seat_key, h.leases FROM seat_holds h
WHERE NOT EXISTS (SELECT 1 FROM leases l WHERE l.product = h.product AND l.seat_key = h.seat_key AND h.seat_key = 's:' || l.id);
DROP TABLE seat_holds;
ALTER TABLE seat_holds_v2 RENAME TO seat_holds;
