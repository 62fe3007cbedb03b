-- People can be suspended (and why), have an access end date, and be linked to the
-- earlier person they were before a re-invitation.
ALTER TABLE people ADD COLUMN suspension_reason text;
ALTER TABLE people ADD COLUMN access_expires_at bigint;
ALTER TABLE people ADD COLUMN previous_id text;
