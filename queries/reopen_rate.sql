-- metric: reopen_rate
-- definition: share of resolved tickets with reopen_count > 0 (tickets whose export has no reopen count are left out)
-- unit: fraction (0-1)
-- better: lower
SELECT
    grp,
    AVG(CASE WHEN reopen_count IS NULL THEN NULL WHEN reopen_count > 0 THEN 1.0 ELSE 0.0 END) AS reopen_rate
FROM tickets
WHERE is_resolved
GROUP BY grp
