-- What the invite screen shows: the plan's limit and how many are registered or
-- invited; the invitation settings (as JSON); the trial's state.
ALTER TABLE accounts ADD COLUMN seats_in_use bigint NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN invitation_settings text NOT NULL DEFAULT '{}';
ALTER TABLE accounts ADD COLUMN registration_nonce text NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN trial_expired smallint NOT NULL DEFAULT 0;
