-- airseal seat store, schema version 3 (SQLite): the change journal's
-- progress. Commits are journaled beside the database (<db>-changes-0 and
-- -1, seatstore.JournalFiles) and folded into it in large transactions;
-- folded is the sequence number of the last record folded, written in the
-- same transaction. Opening replays the records above it. An older
-- license-server, which knows no journal, refuses this schema instead of
-- opening the database without the changes still in the journal.
CREATE TABLE change_journal (
    id     INTEGER PRIMARY KEY,
    folded BIGINT NOT NULL
);
INSERT INTO change_journal (id, folded) VALUES (1, 0);
