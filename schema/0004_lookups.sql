-- CRM look-ups: HubSpot sends one property per event, so a deal's owner or
-- a field a play needs may be unknown until Baton asks the CRM. These
-- columns keep a look-up from being repeated for nothing, and back off
-- while the CRM's API keeps failing.
ALTER TABLE deals ADD COLUMN looked_up_at timestamptz;
ALTER TABLE deals ADD COLUMN lookup_failures int NOT NULL DEFAULT 0;
