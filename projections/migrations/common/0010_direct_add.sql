-- People an administrator adds directly.
--
-- How an invitation lets its person in: 'link' (they choose their password through
-- the link), 'direct' (added by an administrator and in at once with a generated
-- password) or 'direct_confirm' (added by an administrator, choosing their password
-- through the link). The position is the one the administrator gave; null for 'link'.
ALTER TABLE invitations ADD COLUMN delivery text NOT NULL DEFAULT 'link';
ALTER TABLE invitations ADD COLUMN position text;

-- A secret a message carries that the outbox must not hold (a generated password):
-- what the sender needs to make it again as it sends the message, which holds a
-- placeholder instead. Null for every other message.
ALTER TABLE outbox ADD COLUMN withheld text;
