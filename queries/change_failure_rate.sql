-- metric: changes, change_failure_rate
-- definition: change requests attributed to the group by their opened_at (start), and the share of them that failed: close code containing one of [metrics] change_failure_codes in the config (e.g. "Unsuccessful", "Successful with issues")
-- unit: count; fraction (0-1)
-- better: lower
-- order: 80
-- kind changes: count
-- label changes: Change requests
-- kind change_failure_rate: proportion
-- label change_failure_rate: Change failure rate
-- n change_failure_rate: changes
-- of change_failure_rate: change requests
-- compare: change_failure_rate
SELECT
    grp,
    COUNT(*) AS changes,
    AVG(CASE WHEN failed THEN 1.0 ELSE 0.0 END) AS change_failure_rate
FROM changes
GROUP BY grp
