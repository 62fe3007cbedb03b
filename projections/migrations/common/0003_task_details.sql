-- Tasks may belong to a workgroup and have a deadline; comments are kept per task.
ALTER TABLE tasks ADD COLUMN workgroup_id text;
ALTER TABLE tasks ADD COLUMN deadline bigint;

CREATE TABLE task_comments
(
    account_id text   NOT NULL,
    task_id    text   NOT NULL,
    comment_id text   NOT NULL,
    author_id  text   NOT NULL,
    body       text   NOT NULL,
    created_at bigint NOT NULL,
    PRIMARY KEY (account_id, task_id, comment_id)
);
CREATE INDEX task_comments_in_order ON task_comments (account_id, task_id, created_at);
