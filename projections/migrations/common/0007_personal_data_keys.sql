-- One key per person seals their personal data (names, email addresses, phone
-- numbers) inside the event log. Erasing a person deletes their key: the events keep
-- their shape and their bytes, and what they say about the person can no longer be
-- read. Nothing else ever reads this table.
CREATE TABLE personal_data_keys
(
    account_id text NOT NULL,
    person_id  text NOT NULL,
    key_hex    text NOT NULL,
    PRIMARY KEY (account_id, person_id)
);
