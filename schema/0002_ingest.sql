-- Ingest and matching as the daemon runs them.
--
-- change_seq counts the changes that marked a deal to match, so the matcher
-- clears the mark only if nothing new arrived while it was matching; a
-- match_lease lets several instances share the queue without matching one
-- deal twice at once, and a crashed instance's lease simply runs out.
ALTER TABLE deals ADD COLUMN change_seq bigint NOT NULL DEFAULT 0;
ALTER TABLE deals ADD COLUMN match_lease timestamptz;

-- One accepted event, end to end: stored in the inbox once (a retried or
-- replayed event is a 'duplicate' and changes nothing), then merged into its
-- deal. Returns 'duplicate', 'stored' or 'marked' (the deal must be matched).
--
--   p_kind    'create' | 'update' | 'delete' | 'merge' | 'ignore'
--   p_at      when the change happened, ms since the epoch
--   p_fields  the fields the change carries (partial state)
--   p_merged  for 'merge': JSON array of the deal ids merged into p_deal
CREATE FUNCTION baton_ingest(p_source text, p_event text, p_deal text, p_kind text,
                             p_at bigint, p_fields jsonb, p_payload jsonb, p_merged jsonb)
RETURNS text
LANGUAGE plpgsql
AS $$
DECLARE
    m      text;
    old    deals%ROWTYPE;
    marked boolean := false;
BEGIN
    INSERT INTO inbox (source, event_id, deal_id, kind, occurred_at, payload)
    VALUES (p_source, p_event, p_deal, p_kind, to_timestamp(p_at / 1000.0), p_payload)
    ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        RETURN 'duplicate';
    END IF;
    IF p_kind = 'ignore' THEN
        RETURN 'stored';
    END IF;

    IF p_kind = 'merge' THEN
        -- The survivor takes each merged deal's state (field by field, newest
        -- wins) and its deliveries, so no asset goes to the merged deal twice.
        FOR m IN SELECT jsonb_array_elements_text(coalesce(p_merged, '[]'::jsonb)) LOOP
            CONTINUE WHEN m = p_deal;
            SELECT * INTO old FROM deals WHERE source = p_source AND deal_id = m FOR UPDATE;
            IF FOUND THEN
                marked := baton_merge_deal(p_source, p_deal, old.fields, old.field_times,
                                           'update') OR marked;
                UPDATE deals SET deleted = true, to_match = false, trigger = NULL,
                                 merged_into = p_deal, updated_at = now()
                WHERE source = p_source AND deal_id = m;
            END IF;
            UPDATE deliveries d SET deal_id = p_deal
            WHERE d.source = p_source AND d.deal_id = m
              AND NOT EXISTS (SELECT 1 FROM deliveries s
                              WHERE s.source = p_source AND s.deal_id = p_deal
                                AND s.asset_id = d.asset_id);
        END LOOP;
        marked := baton_merge_deal(p_source, p_deal, p_fields, to_jsonb(p_at), 'update')
                  OR marked;
    ELSE
        marked := baton_merge_deal(p_source, p_deal, p_fields, to_jsonb(p_at), p_kind);
    END IF;

    IF marked THEN
        UPDATE deals SET change_seq = change_seq + 1
        WHERE source = p_source AND deal_id = p_deal;
        RETURN 'marked';
    END IF;
    RETURN 'stored';
END;
$$;

-- The matcher's queue scan.
CREATE INDEX deals_match_queue ON deals (updated_at) WHERE to_match AND NOT deleted;
