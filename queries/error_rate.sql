-- metric: error_rate
-- definition: share of resolved tickets not handled right first time: reopened, or reassigned at least once, or flagged as a handling error (each part switchable in the config: [metrics] error_includes_*); tickets with none of the three recorded are left out
-- unit: fraction (0-1)
-- better: lower
-- order: 30
-- kind: proportion
-- label: Error rate
-- compare: error_rate
-- chart: 2, % of resolved tickets, resolved
SELECT grp, AVG(v) AS error_rate, COUNT(v) AS error_rate__n
FROM (
    SELECT
        grp,
        CASE
            WHEN NOT is_resolved THEN NULL
            WHEN (:error_includes_reopened AND reopen_count > 0)
              OR (:error_includes_reassigned AND reassignment_count > 0)
              OR (:error_includes_handling_error AND handling_error) THEN 1.0
            WHEN reopen_count IS NULL AND reassignment_count IS NULL AND handling_error IS NULL THEN NULL
            ELSE 0.0
        END AS v
    -- open tickets are empty here rather than filtered out: a filtered copy of 10 million
    -- tickets cost 0.2 GB at the peak
    FROM tickets
) AS per_ticket
GROUP BY grp
