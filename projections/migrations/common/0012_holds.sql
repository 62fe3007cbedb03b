-- Holds: a place under the plan's limit (seat_holds) or an email address
-- (claim_holds) taken for a person id that nothing has taken up yet: no invitation,
-- registration, joining, reinstatement or change of address. A flow across aggregates
-- takes the hold first and takes it up with its last step; a hold still here after
-- the deadline belongs to a flow that failed, timed out or crashed between its steps,
-- and the scheduler's sweeper gives it back. `taken_at` is milliseconds since the
-- epoch, when the hold was recorded.
CREATE TABLE seat_holds (
    account_id text NOT NULL,
    person_id text NOT NULL,
    taken_at bigint NOT NULL,
    PRIMARY KEY (account_id, person_id)
);
CREATE INDEX seat_holds_taken_at ON seat_holds (taken_at);
-- claim_id is the EmailClaim aggregate's id (keyed with the server's secret).
CREATE TABLE claim_holds (
    account_id text NOT NULL,
    claim_id text NOT NULL,
    person_id text NOT NULL,
    taken_at bigint NOT NULL,
    PRIMARY KEY (account_id, claim_id)
);
CREATE INDEX claim_holds_taken_at ON claim_holds (taken_at);
CREATE INDEX claim_holds_person ON claim_holds (account_id, person_id);
