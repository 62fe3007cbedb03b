-- Which events concern which person: as the subject (joined, invited, assigned,
-- dismissed, ...) or as the one who acted. Audit replays a person's history through
-- this table, across re-invitations.
CREATE TABLE person_history
(
    account_id text   NOT NULL,
    person_id  text   NOT NULL,
    tx         bigint NOT NULL,
    position   bigint NOT NULL,
    -- 'subject' or 'actor'
    relation   text   NOT NULL,
    PRIMARY KEY (account_id, person_id, tx, position, relation)
);
