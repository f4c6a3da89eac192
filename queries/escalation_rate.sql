-- metric: escalation_rate
-- definition: share of tickets (open or resolved) with escalated = true; tickets whose export has no escalation are left out
-- unit: fraction (0-1)
-- better: lower
-- order: 40
-- kind: proportion
-- label: Escalation rate
-- compare: escalation_rate
-- overview: 3
SELECT grp, AVG(v) AS escalation_rate, COUNT(v) AS escalation_rate__n
FROM (
    SELECT
        grp,
        CASE WHEN escalated THEN 1.0 WHEN NOT escalated THEN 0.0 END AS v
    FROM tickets
) AS per_ticket
GROUP BY grp
