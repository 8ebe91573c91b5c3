-- The adoption report tests' dataset: deals, deliveries and hits whose
-- report is worked out by hand in README.md. Loaded after motion-v1.yaml
-- (version 1) and motion-v2.yaml (version 2, the active one).

-- The deals' CURRENT stages, which decide won and lost. D06 is in
-- "disqualified": lost for version 2, a stage version 1 does not know.
-- D07 has no stage; D11 has no row at all.
INSERT INTO deals (source, deal_id, fields) VALUES
    ('hubspot', 'D01', '{"stage": "won"}'),
    ('hubspot', 'D02', '{"stage": "won"}'),
    ('hubspot', 'D03', '{"stage": "lost"}'),
    ('hubspot', 'D04', '{"stage": "demo"}'),
    ('hubspot', 'D05', '{"stage": "lost"}'),
    ('hubspot', 'D06', '{"stage": "disqualified"}'),
    ('hubspot', 'D07', '{"stage": null}'),
    ('hubspot', 'D08', '{"stage": "proposal"}'),
    ('hubspot', 'D09', '{"stage": "won"}'),
    ('hubspot', 'D10', '{"stage": "demo"}'),
    ('hubspot', 'D12', '{"stage": "lost"}');

-- Sent deliveries were sent 10 seconds after they were created; the others
-- never were.
INSERT INTO deliveries (id, source, deal_id, asset_id, motion_version, play_id, trigger, stage,
                        competitor, rep_id, channel, target, status, token, created_at, sent_at)
SELECT v.id, 'hubspot', v.deal, v.asset, v.ver, v.play, 'stage', v.stage, v.comp, v.rep,
       CASE WHEN v.rep IS NULL THEN NULL ELSE 'slack' END,
       CASE WHEN v.rep IS NULL THEN NULL ELSE 'U-' || v.rep END,
       v.status, 'report-test-token-' || v.id, v.created::timestamptz,
       CASE WHEN v.status = 'sent' THEN v.created::timestamptz + interval '10 seconds' END
FROM (VALUES
    ( 1, 'D01', 'bc-acme',    1, 'acme-demo',  'demo',      'acme',   'dana', 'sent',       '2024-05-02T10:00:00Z'),
    ( 2, 'D02', 'bc-acme',    1, 'acme-demo',  'demo',      'acme',   'dana', 'sent',       '2024-05-03T10:00:00Z'),
    ( 3, 'D03', 'bc-acme',    1, 'acme-demo',  'demo',      'acme',   'lee',  'sent',       '2024-05-04T10:00:00Z'),
    ( 4, 'D04', 'bc-acme',    1, 'acme-demo',  'demo',      'acme',   'lee',  'sent',       '2024-05-05T10:00:00Z'),
    ( 5, 'D05', 'bc-acme',    1, 'acme-demo',  'demo',      'acme',   'sam',  'sent',       '2024-05-06T10:00:00Z'),
    ( 6, 'D06', 'bc-acme',    1, 'acme-demo',  'demo',      'acme',   'sam',  'sent',       '2024-05-07T10:00:00Z'),
    ( 7, 'D07', 'bc-acme',    1, 'acme-demo',  'demo',      'acme',   NULL,   'unroutable', '2024-05-08T10:00:00Z'),
    ( 8, 'D08', 'bc-acme',    1, 'acme-demo',  'demo',      'acme',   'dana', 'failed',     '2024-05-09T10:00:00Z'),
    ( 9, 'D01', 'deck-intro', 1, 'discovery',  'discovery', NULL,     'dana', 'sent',       '2024-05-10T10:00:00Z'),
    (10, 'D02', 'deck-intro', 1, 'discovery',  'discovery', NULL,     'dana', 'sent',       '2024-05-11T10:00:00Z'),
    (11, 'D03', 'deck-intro', 1, 'discovery',  'discovery', NULL,     'lee',  'sent',       '2024-05-12T10:00:00Z'),
    (12, 'D04', 'deck-intro', 1, 'discovery',  'discovery', NULL,     'lee',  'sent',       '2024-05-13T10:00:00Z'),
    (13, 'D05', 'deck-intro', 1, 'discovery',  'discovery', NULL,     'sam',  'sent',       '2024-05-14T10:00:00Z'),
    (14, 'D09', 'deck-intro', 1, 'discovery',  'discovery', NULL,     'sam',  'sent',       '2024-05-15T10:00:00Z'),
    (15, 'D10', 'deck-intro', 2, 'discovery',  'discovery', NULL,     'dana', 'dead',       '2024-05-16T10:00:00Z'),
    (16, 'D08', 'bc-globex',  2, 'globex-any', 'proposal',  'globex', 'dana', 'sent',       '2024-05-17T10:00:00Z'),
    (17, 'D09', 'bc-globex',  2, 'globex-any', 'proposal',  'globex', 'lee',  'sent',       '2024-05-18T10:00:00Z'),
    (18, 'D10', 'bc-globex',  2, 'globex-any', 'proposal',  'globex', 'lee',  'pending',    '2024-05-19T10:00:00Z'),
    (19, 'D11', 'cs-health',  2, 'health',     'demo',      'acme',   'sam',  'sent',       '2024-05-20T10:00:00Z'),
    (20, 'D12', 'cs-health',  2, 'health',     'demo',      'acme',   'sam',  'skipped',    '2024-05-21T10:00:00Z'),
    (21, 'D08', 'pg-2024',    2, 'proposal',   'proposal',  'globex', NULL,   'unroutable', '2024-05-22T10:00:00Z'),
    (22, 'D12', 'pg-2024',    2, 'proposal',   'proposal',  'globex', 'dana', 'failed',     '2024-05-23T10:00:00Z'),
    (23, 'D12', 'bc-acme',    1, 'acme-demo',  'demo',      'acme',   'lee',  'sent',       '2024-04-20T10:00:00Z'),
    (24, 'D07', 'deck-intro', 2, 'discovery',  'discovery', NULL,     'dana', 'sent',       '2024-06-01T00:00:00Z'),
    (25, 'D06', 'bc-globex',  1, 'globex-any', 'proposal',  'globex', 'lee',  'sent',       '2024-05-01T00:00:00Z')
) AS v(id, deal, asset, ver, play, stage, comp, rep, status, created);

-- Hits, AFTER the push (or the creation, for a delivery never sent).
-- Prefetches (unfurlers, HEAD requests) never open a delivery; nor does a
-- person's hit on a delivery that failed.
INSERT INTO hits (delivery_id, at, method, user_agent, kind, reason)
SELECT h.id, coalesce(d.sent_at, d.created_at) + h.after::interval, h.method, h.ua, h.kind,
       h.reason
FROM (VALUES
    ( 1, '10 minutes', 'GET',  'Mozilla/5.0', 'person', 'person'),
    ( 2, '1 second',   'GET',  'Slackbot-LinkExpanding 1.0', 'prefetch', 'user agent: Slackbot'),
    ( 2, '30 minutes', 'GET',  'Mozilla/5.0', 'person', 'person'),
    ( 2, '90 minutes', 'GET',  'Mozilla/5.0', 'person', 'person'),
    ( 3, '1 second',   'GET',  'Slackbot-LinkExpanding 1.0', 'prefetch', 'user agent: Slackbot'),
    ( 3, '40 minutes', 'HEAD', 'Mozilla/5.0', 'prefetch', 'head request'),
    ( 4, '5 minutes',  'GET',  'Mozilla/5.0', 'person', 'person'),
    ( 6, '60 minutes', 'GET',  'Mozilla/5.0', 'person', 'person'),
    ( 8, '20 minutes', 'GET',  'Mozilla/5.0', 'person', 'person'),
    (10, '2 seconds',  'GET',  'Mozilla/5.0 SkypeUriPreview Preview/0.5', 'prefetch',
         'user agent: SkypeUriPreview'),
    (11, '120 minutes','GET',  'Mozilla/5.0', 'person', 'person'),
    (16, '15 minutes', 'GET',  'Mozilla/5.0', 'person', 'person'),
    (17, '45 minutes', 'GET',  'Mozilla/5.0', 'person', 'person'),
    (19, '3 minutes',  'GET',  'Mozilla/5.0', 'person', 'person'),
    (22, '7 minutes',  'GET',  'Mozilla/5.0', 'person', 'person'),
    (23, '1 minute',   'GET',  'Mozilla/5.0', 'person', 'person'),
    (24, '2 minutes',  'GET',  'Mozilla/5.0', 'person', 'person')
) AS h(id, after, method, ua, kind, reason)
JOIN deliveries d ON d.id = h.id;
