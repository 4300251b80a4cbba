-- airseal seat store, schema version 2 (PostgreSQL): seat_holds keeps
-- only shared seat keys (per computer). A per-session key 's:'||id is held
-- by its own lease alone, so the store counts it from the lease row
-- (seatstore.hold.implicit). The SQLite version also rebuilds tables to
-- write fewer pages; PostgreSQL's heap tables need no such change.
DELETE FROM seat_holds h
WHERE EXISTS (SELECT 1 FROM leases l WHERE l.product = h.product AND l.seat_key = h.seat_key AND h.seat_key = 's:' || l.id);
