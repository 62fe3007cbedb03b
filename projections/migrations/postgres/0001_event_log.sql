-- The event log. postgres-es writes and reads the first seven columns by name; the
-- three after them are ours and filled by the database:
--   global_position  a number per event, unique and increasing in insertion order;
--   tx_id            the writing transaction, so the log reader can read only below
--                    the oldest transaction still running (see log.rs);
--   account_id       the account, from the key prefix "{account}:{entity}", so the log
--                    can later be partitioned and sharded by account.
CREATE TABLE events
(
    aggregate_type  text                         NOT NULL,
    aggregate_id    text                         NOT NULL,
    sequence        bigint CHECK (sequence >= 0) NOT NULL,
    event_type      text                         NOT NULL,
    event_version   text                         NOT NULL,
    payload         json                         NOT NULL,
    metadata        json                         NOT NULL,
    global_position bigint GENERATED ALWAYS AS IDENTITY,
    tx_id           xid8                         NOT NULL DEFAULT pg_current_xact_id(),
    account_id      text GENERATED ALWAYS AS (split_part(aggregate_id, ':', 1)) STORED NOT NULL
        CHECK (account_id <> ''),
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)
);

CREATE INDEX events_log_order ON events (tx_id, global_position);
CREATE INDEX events_by_account ON events (account_id, global_position);

CREATE TABLE snapshots
(
    aggregate_type   text                                 NOT NULL,
    aggregate_id     text                                 NOT NULL,
    last_sequence    bigint CHECK (last_sequence >= 0)    NOT NULL,
    current_snapshot bigint CHECK (current_snapshot >= 0) NOT NULL,
    payload          json                                 NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id, last_sequence)
);
