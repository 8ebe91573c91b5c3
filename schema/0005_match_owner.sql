-- Who holds a deal's match lease. Releasing the lease, or clearing the
-- "to match" mark, is only done by its holder: an instance that was too
-- slow (its lease ran out and another took the deal) changes nothing.
ALTER TABLE deals ADD COLUMN match_owner text;
