-- Baton's first schema: motion versions, the inbox, deal state, the delivery
-- outbox and hits on tracked links.
--
-- `baton migrate` runs each numbered file once, inside a transaction of its
-- own, and records it in schema_migrations (which the migrator creates); so a
-- migration never opens or commits a transaction itself.

-- Motion versions ----------------------------------------------------------

-- Every distinct motion file ever loaded, by content: loading the same bytes
-- again finds the stored row (sha256) instead of adding one. The version
-- number is what deliveries record.
CREATE TABLE motion_versions (
    version     bigserial PRIMARY KEY,
    name        text NOT NULL,
    sha256      text NOT NULL UNIQUE CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    document    text NOT NULL,
    source_file text,
    loaded_at   timestamptz NOT NULL DEFAULT now(),
    loaded_by   text NOT NULL
);

-- An append-only log: the active version is the one activated last. Keeping
-- the log (instead of one "active" flag) shows who switched what, when, and
-- lets an earlier version be re-activated without copying it.
CREATE TABLE motion_activations (
    id           bigserial PRIMARY KEY,
    version      bigint NOT NULL REFERENCES motion_versions,
    activated_at timestamptz NOT NULL DEFAULT now(),
    activated_by text NOT NULL
);
CREATE INDEX motion_activations_version ON motion_activations (version);

-- Ordered by id, not time: two activations in one transaction share now().
CREATE VIEW motion_active AS
SELECT v.version, v.name, v.sha256, v.document, a.activated_at, a.activated_by
FROM (SELECT * FROM motion_activations ORDER BY id DESC LIMIT 1) a
JOIN motion_versions v ON v.version = a.version;

-- Ingest ----------------------------------------------------------------------

-- Every event accepted from a CRM, once: a retried or replayed webhook hits
-- the primary key and is dropped (ON CONFLICT DO NOTHING).
CREATE TABLE inbox (
    source      text NOT NULL,
    event_id    text NOT NULL,
    deal_id     text NOT NULL,
    kind        text NOT NULL,
    occurred_at timestamptz,
    received_at timestamptz NOT NULL DEFAULT now(),
    payload     jsonb NOT NULL,
    PRIMARY KEY (source, event_id)
);
CREATE INDEX inbox_deal ON inbox (source, deal_id);
CREATE INDEX inbox_received_at ON inbox (received_at);

-- The merged state of each deal. fields holds Baton's field names (never the
-- CRM's) with text values, or JSON null for a value cleared in the CRM;
-- field_times holds, per field, the event time in milliseconds of the value
-- stored, so an older change arriving late cannot overwrite a newer one.
CREATE TABLE deals (
    source      text NOT NULL,
    deal_id     text NOT NULL,
    fields      jsonb NOT NULL DEFAULT '{}',
    field_times jsonb NOT NULL DEFAULT '{}',
    deleted     boolean NOT NULL DEFAULT false,
    merged_into text,
    to_match    boolean NOT NULL DEFAULT false,
    trigger     text CHECK (trigger IN ('created', 'stage', 'competitor', 'owner')),
    created_at  timestamptz DEFAULT now(),
    updated_at  timestamptz DEFAULT now(),
    PRIMARY KEY (source, deal_id),
    CHECK (jsonb_typeof(fields) = 'object' AND jsonb_typeof(field_times) = 'object')
);
-- The matcher's queue: small, since the mark is cleared once matched.
CREATE INDEX deals_to_match ON deals (updated_at) WHERE to_match;

-- Merges one change into a deal's state, field by field, and says whether the
-- deal must be matched again.
--
--   p_fields  {"stage": "qualifiedtobuy", "owner": null, ...}: the fields the
--             change carries (JSON null: cleared in the CRM); absent fields
--             are left alone.
--   p_times   when each value was true, in milliseconds since the epoch:
--             {"stage": 1717000000000, ...}, or one number for every field.
--             A field without a time is stamped with the current time.
--   p_kind    'delete' marks the deal deleted; any other kind is a change.
--
-- A value replaces the stored one only if its time is >= the stored time of
-- that field, so events arriving out of order settle on the newest value.
-- Returns true, and marks the deal to_match with a trigger, when the stage,
-- competitor or owner actually changed (a new deal with a stage: 'created').
-- When the deal is already marked, the stronger trigger of the two is kept
-- (created > stage > competitor > owner), so several changes to one deal
-- before it is matched make one match with the most telling reason.
-- A deleted deal is never marked, and deleting clears the mark.
CREATE FUNCTION baton_merge_deal(p_source text, p_deal text, p_fields jsonb, p_times jsonb,
                                 p_kind text)
RETURNS boolean
LANGUAGE plpgsql
AS $$
DECLARE
    d        deals%ROWTYPE;
    is_new   boolean;
    now_ms   bigint := floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint;
    v_fields jsonb;
    v_times  jsonb;
    k        text;
    v        jsonb;
    t        bigint;
    old_t    bigint;
    trig     text;
    ranks    text[] := ARRAY['created', 'stage', 'competitor', 'owner'];
BEGIN
    IF p_source IS NULL OR p_deal IS NULL THEN
        RAISE EXCEPTION 'baton_merge_deal: source and deal id are required';
    END IF;
    IF p_fields IS NOT NULL AND jsonb_typeof(p_fields) <> 'object' THEN
        RAISE EXCEPTION 'baton_merge_deal: fields must be a JSON object';
    END IF;

    -- Insert-then-lock rather than lock-then-insert: two instances merging
    -- the first changes of one deal at once must not both see "no row".
    INSERT INTO deals (source, deal_id) VALUES (p_source, p_deal)
    ON CONFLICT (source, deal_id) DO NOTHING
    RETURNING true INTO is_new;
    is_new := coalesce(is_new, false);
    SELECT * INTO d FROM deals WHERE source = p_source AND deal_id = p_deal FOR UPDATE;

    v_fields := d.fields;
    v_times := d.field_times;
    FOR k, v IN SELECT key, value FROM jsonb_each(coalesce(p_fields, '{}'::jsonb)) LOOP
        IF jsonb_typeof(p_times) = 'number' THEN
            t := floor((p_times #>> '{}')::numeric)::bigint;
        ELSIF jsonb_typeof(p_times) = 'object' AND jsonb_typeof(p_times -> k) = 'number' THEN
            t := floor((p_times ->> k)::numeric)::bigint;
        ELSE
            t := now_ms;
        END IF;
        old_t := NULL;
        IF jsonb_typeof(v_times -> k) = 'number' THEN
            old_t := floor((v_times ->> k)::numeric)::bigint;
        END IF;
        IF old_t IS NULL OR t >= old_t THEN
            v_fields := v_fields || jsonb_build_object(k, v);
            v_times := v_times || jsonb_build_object(k, t);
        END IF;
    END LOOP;

    IF p_kind = 'delete' THEN
        UPDATE deals
        SET fields = v_fields, field_times = v_times, deleted = true, to_match = false,
            trigger = NULL, updated_at = now()
        WHERE source = p_source AND deal_id = p_deal;
        RETURN false;
    END IF;

    -- JSON null and an absent key both mean "no value": going from one to
    -- the other is not a change.
    IF d.deleted THEN
        trig := NULL;
    ELSIF is_new AND nullif(v_fields -> 'stage', 'null'::jsonb) IS NOT NULL THEN
        trig := 'created';
    ELSIF nullif(v_fields -> 'stage', 'null'::jsonb)
          IS DISTINCT FROM nullif(d.fields -> 'stage', 'null'::jsonb) THEN
        trig := 'stage';
    ELSIF nullif(v_fields -> 'competitor', 'null'::jsonb)
          IS DISTINCT FROM nullif(d.fields -> 'competitor', 'null'::jsonb) THEN
        trig := 'competitor';
    ELSIF nullif(v_fields -> 'owner', 'null'::jsonb)
          IS DISTINCT FROM nullif(d.fields -> 'owner', 'null'::jsonb) THEN
        trig := 'owner';
    END IF;

    IF trig IS NULL THEN
        IF v_fields IS DISTINCT FROM d.fields OR v_times IS DISTINCT FROM d.field_times THEN
            UPDATE deals SET fields = v_fields, field_times = v_times, updated_at = now()
            WHERE source = p_source AND deal_id = p_deal;
        END IF;
        RETURN false;
    END IF;
    IF d.to_match AND array_position(ranks, d.trigger) < array_position(ranks, trig) THEN
        trig := d.trigger;
    END IF;
    UPDATE deals
    SET fields = v_fields, field_times = v_times, to_match = true, trigger = trig,
        updated_at = now()
    WHERE source = p_source AND deal_id = p_deal;
    RETURN true;
END;
$$;

-- Delivery ------------------------------------------------------------------

-- The outbox: one row per deal and asset, ever (the UNIQUE below is what
-- makes a re-match after a crash harmless). Instances claim due rows with
-- FOR UPDATE SKIP LOCKED and a lease; a lease that runs out returns the row
-- to the pool.
CREATE TABLE deliveries (
    id              bigserial PRIMARY KEY,
    source          text NOT NULL,
    deal_id         text NOT NULL,
    asset_id        text NOT NULL,
    motion_version  bigint REFERENCES motion_versions,
    play_id         text,
    trigger         text,
    stage           text,
    competitor      text,
    rep_id          text,
    channel         text,
    target          text,
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sent', 'failed', 'dead', 'skipped',
                                      'unroutable')),
    attempts        int NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    lease_until     timestamptz,
    leased_by       text,
    last_error      text,
    token           text NOT NULL UNIQUE,
    external_id     text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    UNIQUE (source, deal_id, asset_id)
);
-- The pusher's scan: pending rows by due time (a lease is checked on the few
-- rows this returns).
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
-- The adoption report reads deliveries by time window and version.
CREATE INDEX deliveries_created_at ON deliveries (created_at);
CREATE INDEX deliveries_motion_version ON deliveries (motion_version);

-- Every request for a tracked link, classified. No IP address is stored.
CREATE TABLE hits (
    id          bigserial PRIMARY KEY,
    delivery_id bigint NOT NULL REFERENCES deliveries,
    at          timestamptz NOT NULL DEFAULT now(),
    method      text,
    user_agent  text,
    kind        text CHECK (kind IN ('person', 'prefetch')),
    reason      text
);
CREATE INDEX hits_delivery ON hits (delivery_id, at);

-- A delivery's open is its first hit by a person.
CREATE VIEW delivery_opens AS
SELECT delivery_id, min(at) AS opened_at
FROM hits
WHERE kind = 'person'
GROUP BY delivery_id;
