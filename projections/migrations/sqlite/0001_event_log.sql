-- The event log. sqlite-es writes and reads the first seven columns by name; the two
-- after them are ours and filled by the database:
--   global_position  1, 2, 3, ... in commit order. SQLite has one writer at a time, so
--                    the trigger below numbers events in the order they commit;
--                    unlike the implicit rowid, the number survives VACUUM.
--   account_id       the account, from the key prefix "{account}:{entity}".
-- The primary key stays as sqlite-es expects: its optimistic-lock detection relies on
-- a primary-key violation.
CREATE TABLE events
(
    aggregate_type  text                          NOT NULL,
    aggregate_id    text                          NOT NULL,
    sequence        integer CHECK (sequence >= 0) NOT NULL,
    event_type      text                          NOT NULL,
    event_version   text                          NOT NULL,
    payload         text                          NOT NULL,
    metadata        text                          NOT NULL,
    global_position integer,
    account_id      text GENERATED ALWAYS AS (substr(aggregate_id, 1, instr(aggregate_id, ':') - 1)) STORED NOT NULL
        CHECK (account_id <> ''),
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)
) STRICT;

CREATE UNIQUE INDEX events_log_order ON events (global_position);
CREATE INDEX events_by_account ON events (account_id, global_position);

CREATE TRIGGER events_number_in_commit_order AFTER INSERT ON events
BEGIN
    UPDATE events
    SET global_position = (SELECT coalesce(max(global_position), 0) + 1 FROM events)
    WHERE rowid = NEW.rowid;
END;

CREATE TABLE snapshots
(
    aggregate_type   text                                  NOT NULL,
    aggregate_id     text                                  NOT NULL,
    last_sequence    integer CHECK (last_sequence >= 0)    NOT NULL,
    current_snapshot integer CHECK (current_snapshot >= 0) NOT NULL,
    payload          text                                  NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id, last_sequence)
) STRICT;
