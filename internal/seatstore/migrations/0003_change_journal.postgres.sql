-- airseal seat store, schema version 3 (PostgreSQL): nothing changes.
-- Version 3 adds the SQLite store's change journal progress
-- (0003_change_journal.sqlite.sql); PostgreSQL commits every change
-- directly.
SELECT 1;
