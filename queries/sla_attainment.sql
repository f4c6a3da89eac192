-- metric: sla_attainment
-- definition: share of tickets with an SLA outcome that met it: made_sla from the export, else for resolved tickets resolution within the target hours of their priority ([sla] target_hours in the config); tickets with neither are left out
-- unit: fraction (0-1)
-- better: higher
-- order: 50
-- kind: proportion
-- label: SLA attainment
-- compare: sla_attainment
-- chart: 4, % of tickets, tickets
SELECT grp, AVG(v) AS sla_attainment, COUNT(v) AS sla_attainment__n
FROM (
    SELECT
        grp,
        CASE WHEN sla_met THEN 1.0 WHEN NOT sla_met THEN 0.0 END AS v
    FROM tickets
) AS per_ticket
GROUP BY grp
