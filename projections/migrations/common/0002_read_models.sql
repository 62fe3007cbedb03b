-- Read models, in SQL that PostgreSQL and SQLite both accept. Each is a projection of
-- the event log and can be dropped and rebuilt from it. Ids are UUID text, times are
-- milliseconds since the epoch.

-- How far each consumer of the log has got. Written in the same transaction as the
-- changes it covers, so a crash never applies an event twice or loses one.
CREATE TABLE checkpoints
(
    name     text   PRIMARY KEY,
    tx       bigint NOT NULL,
    position bigint NOT NULL
);

CREATE TABLE accounts
(
    account_id    text   PRIMARY KEY,
    name          text   NOT NULL,
    plan          text   NOT NULL,
    trial_ends_at bigint,
    created_at    bigint NOT NULL
);

CREATE TABLE people
(
    account_id    text     NOT NULL,
    person_id     text     NOT NULL,
    kind          text     NOT NULL,
    status        text     NOT NULL,
    email         text     NOT NULL,
    first_name    text     NOT NULL,
    last_name     text     NOT NULL,
    administrator smallint NOT NULL,
    password_hash text     NOT NULL,
    sponsor_id    text,
    joined_at     bigint   NOT NULL,
    PRIMARY KEY (account_id, person_id)
);
CREATE INDEX people_by_email ON people (account_id, email);

-- Invitations and registrations: the "invited" list is the pending ones.
CREATE TABLE invitations
(
    account_id    text   NOT NULL,
    invitation_id text   NOT NULL,
    person_id     text   NOT NULL,
    -- An email address, or a phone number starting with +.
    address       text   NOT NULL,
    -- Empty when the inviter gave no name.
    first_name    text   NOT NULL,
    last_name     text   NOT NULL,
    person_kind   text   NOT NULL,
    -- company, workgroup or task; the matching columns below say which one.
    target        text   NOT NULL,
    department_id text,
    workgroup_id  text,
    task_id       text,
    task_role     text,
    -- Who invited; none for a registration through the account's link.
    sponsor_id    text,
    -- pending, awaiting_approval, accepted, declined, revoked, expired, rejected
    status        text   NOT NULL,
    -- The link's secret is HMAC(server key, id : nonce); the nonce alone opens nothing.
    nonce         text   NOT NULL,
    expires_at    bigint,
    issued_at     bigint NOT NULL,
    PRIMARY KEY (account_id, invitation_id)
);
CREATE INDEX invitations_by_status ON invitations (account_id, status, issued_at);

CREATE TABLE tasks
(
    account_id  text   NOT NULL,
    task_id     text   NOT NULL,
    title       text   NOT NULL,
    description text   NOT NULL,
    status      text   NOT NULL,
    creator_id  text   NOT NULL,
    created_at  bigint NOT NULL,
    PRIMARY KEY (account_id, task_id)
);

-- Who holds which role in a task, besides its creator (tasks.creator_id).
CREATE TABLE task_roles
(
    account_id text NOT NULL,
    task_id    text NOT NULL,
    person_id  text NOT NULL,
    role       text NOT NULL,
    PRIMARY KEY (account_id, task_id, person_id)
);
CREATE INDEX task_roles_by_person ON task_roles (account_id, person_id);

-- Login sessions. Not a projection: a session is a credential, not a fact of the
-- domain. Only the SHA-256 of the token is kept.
CREATE TABLE sessions
(
    token_hash text   PRIMARY KEY,
    account_id text   NOT NULL,
    person_id  text   NOT NULL,
    created_at bigint NOT NULL,
    expires_at bigint NOT NULL
);

-- Email the notifier has decided to send. Filled by the notifier's projection (with
-- its checkpoint, in one transaction) and emptied by its sender, so a restart neither
-- loses a message nor decides it twice.
CREATE TABLE outbox
(
    message_key text   PRIMARY KEY,
    account_id  text   NOT NULL,
    recipient   text   NOT NULL,
    subject     text   NOT NULL,
    body        text   NOT NULL,
    created_at  bigint NOT NULL,
    attempts    integer NOT NULL DEFAULT 0,
    next_try_at bigint NOT NULL,
    last_error  text,
    sent_at     bigint
);
CREATE INDEX outbox_pending ON outbox (sent_at, next_try_at);
