-- metric: changes, change_failure_rate
-- definition: change requests attributed to the group by their opened_at (start), and the share of them that failed: close code containing one of [metrics] change_failure_codes in the config (e.g. "Unsuccessful", "Successful with issues")
-- unit: count; fraction (0-1)
-- better: lower
SELECT
    grp,
    COUNT(*) AS changes,
    AVG(CASE WHEN failed THEN 1.0 ELSE 0.0 END) AS change_failure_rate
FROM changes
GROUP BY grp
