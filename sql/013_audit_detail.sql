-- What a write changed that an auditor looks for (password, roles, active), as
-- {"changed": [...]}; NULL for rows that carry nothing more than their action.
ALTER TABLE audit ADD COLUMN IF NOT EXISTS detail jsonb;
