-- Delivery state per recipient. An alert is sent to each of its addresses on its own and each
-- outcome is recorded as the server answers: one rejected address does not fail the alert for
-- the others, and a retry goes only to the addresses that do not have the mail yet.
CREATE TABLE alert_recipients (
    alert_id   INTEGER NOT NULL REFERENCES alerts (id),
    address    TEXT    NOT NULL,
    -- the address's place in the watch's `to`
    position   INTEGER NOT NULL DEFAULT 0,
    -- 'pending', 'sent' or 'failed'
    status     TEXT    NOT NULL DEFAULT 'pending',
    -- the server's last reply about this address, when it was not an acceptance
    last_error TEXT,
    sent_at    BIGINT,
    PRIMARY KEY (alert_id, address)
);

-- Alerts queued before this table existed: their recipients take the alert's state.
INSERT INTO alert_recipients (alert_id, address, position, status, last_error, sent_at)
SELECT a.id, j.value, j.key,
       CASE a.status WHEN 'sent' THEN 'sent' WHEN 'failed' THEN 'failed' ELSE 'pending' END,
       CASE a.status WHEN 'failed' THEN a.last_error END,
       a.sent_at
FROM alerts a, json_each(a.recipients) j
WHERE true
ON CONFLICT (alert_id, address) DO NOTHING;
