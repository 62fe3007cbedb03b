-- Workgroups and their members.
CREATE TABLE workgroups
(
    account_id    text     NOT NULL,
    workgroup_id  text     NOT NULL,
    name          text     NOT NULL,
    -- 1 when "allow access for external users" is on.
    extranet      smallint NOT NULL,
    invite_policy text     NOT NULL,
    created_at    bigint   NOT NULL,
    PRIMARY KEY (account_id, workgroup_id)
);

CREATE TABLE workgroup_members
(
    account_id   text     NOT NULL,
    workgroup_id text     NOT NULL,
    person_id    text     NOT NULL,
    role         text     NOT NULL,
    external     smallint NOT NULL,
    expires_at   bigint,
    PRIMARY KEY (account_id, workgroup_id, person_id)
);
CREATE INDEX workgroup_members_by_person ON workgroup_members (account_id, person_id);
