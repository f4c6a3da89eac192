-- metric: tickets, resolved, open
-- definition: tickets attributed to the group; of them, resolved (a resolved_at, or else a closed_at) and still open (right-censored: neither)
-- unit: count
-- better: none
-- order: 10
-- kind: count
-- label tickets: Tickets
-- label resolved: Resolved
-- label open: Open
-- overview tickets: 1
SELECT
    grp,
    COUNT(*) AS tickets,
    SUM(CASE WHEN is_resolved THEN 1 ELSE 0 END) AS resolved,
    SUM(CASE WHEN is_resolved THEN 0 ELSE 1 END) AS open
FROM tickets
GROUP BY grp
