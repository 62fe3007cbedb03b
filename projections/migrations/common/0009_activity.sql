-- The activity stream: what happened in each workgroup, newest last. Whether a viewer
-- sees an entry is the permission rule for its group; entries of extranet groups are
-- marked as such when shown.
CREATE TABLE activity
(
    account_id   text   NOT NULL,
    workgroup_id text   NOT NULL,
    tx           bigint NOT NULL,
    position     bigint NOT NULL,
    at           bigint NOT NULL,
    actor_id     text,
    -- group_created, member_added, member_removed, task_created, task_changed, comment_added
    kind         text   NOT NULL,
    -- The task or person the entry is about, if any.
    subject_id   text,
    -- A task's title or a comment's text: never a person's name or address.
    detail       text   NOT NULL,
    PRIMARY KEY (account_id, tx, position, workgroup_id)
);
CREATE INDEX activity_by_group ON activity (account_id, workgroup_id, tx, position);
