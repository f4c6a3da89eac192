-- metric: sla_attainment
-- definition: share of tickets with an SLA outcome that met it: made_sla from the export, else for resolved tickets resolution within the target hours of their priority ([sla] target_hours in the config); tickets with neither are left out
-- unit: fraction (0-1)
-- better: higher
SELECT
    grp,
    AVG(CASE WHEN sla_met THEN 1.0 WHEN NOT sla_met THEN 0.0 END) AS sla_attainment
FROM tickets
GROUP BY grp
