-- What a delivery pushes is fixed when it is created: the asset's kind,
-- title and URL as the motion said then, and the deal's name. The tracked
-- link redirects to this stored URL (never one taken from a request), and
-- an asset edited or removed in a later motion version does not change
-- what an earlier delivery showed the rep.
ALTER TABLE deliveries ADD COLUMN asset_kind text;
ALTER TABLE deliveries ADD COLUMN asset_title text;
ALTER TABLE deliveries ADD COLUMN asset_url text;
ALTER TABLE deliveries ADD COLUMN deal_name text;

-- The rep panel lists a rep's recent deliveries.
CREATE INDEX deliveries_rep ON deliveries (rep_id, created_at DESC);
-- Deliveries of one deal, for the suggestions endpoint and merges.
CREATE INDEX deliveries_deal ON deliveries (source, deal_id);
