-- Attempts to get in (login, password reset, registration, invitation acceptance),
-- counted in the database so that every server of a deployment shares one budget
-- and a restart forgets nothing.
--
-- One row per key: the key is an HMAC (under the server's secret key) of the kind of
-- attempt and the address or client IP, so the table holds no email address or IP in
-- clear. A window opens at a key's first attempt (milliseconds since the epoch) and
-- counts the attempts let through until it has lasted the configured window; the next
-- attempt after that opens a new one. Rows whose window has ended are swept.
CREATE TABLE attempt_counts (
    key text PRIMARY KEY,
    window_start bigint NOT NULL,
    attempts bigint NOT NULL
);
CREATE INDEX attempt_counts_window_start ON attempt_counts (window_start);
