-- metric: mttr_mean_h, mttr_median_h, mttr_p90_h
-- definition: hours from opened_at to resolved_at (closed_at when there is no resolved_at) over resolved tickets: mean, median and 90th percentile with linear interpolation between order statistics (R type 7). Open tickets are not in these numbers; they are counted in `open`
-- unit: hours
-- better: lower
SELECT
    grp,
    AVG(resolution_hours) AS mttr_mean_h,
    MEDIAN(resolution_hours) AS mttr_median_h,
    QUANTILE_CONT(resolution_hours, 0.9) AS mttr_p90_h
FROM tickets
WHERE is_resolved
GROUP BY grp
