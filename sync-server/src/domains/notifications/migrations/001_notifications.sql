-- The notifications projector (tail): what a person is told about — reactions and comments on their
-- posts, replies to their comments, new followers, promotions of their posts, resolutions of their
-- reports. One row per (recipient, receipt); visibility (blocks, hidden posts) is decided when read.
-- (The table kept the name it had when the social projector wrote it inline.)
CREATE TABLE social_notifications (
  recipient_id  text NOT NULL,
  event_id      text NOT NULL,              -- the receipt that caused it
  kind          text NOT NULL,              -- reaction | comment | reply | follow | promoted | report_resolved
  actor_id      text NOT NULL,
  post_id       text,
  comment_id    text,
  detail        text,                       -- the emoji, the promotion category, the resolution action
  position      bigint NOT NULL,
  created_at    text NOT NULL,
  PRIMARY KEY (recipient_id, event_id)
);
CREATE INDEX social_notifications_feed ON social_notifications (recipient_id, position DESC);
