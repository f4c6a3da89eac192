-- metric: audit_exceptions, audit_exceptions_per_1k
-- definition: audit findings attributed to the group by their raised_at, as a count and per 1,000 tickets of the same group (empty when the group has no tickets)
-- unit: count; findings per 1,000 tickets
-- better: lower
-- order: 70
-- kind audit_exceptions: count
-- label audit_exceptions: Audit exceptions
-- of audit_exceptions: audit finding(s)
-- kind audit_exceptions_per_1k: rate
-- label audit_exceptions_per_1k: Audit exceptions per 1k tickets
-- rate audit_exceptions_per_1k: audit_exceptions per 1000 tickets
-- of audit_exceptions_per_1k: tickets (exposure)
-- compare: audit_exceptions_per_1k
SELECT
    COALESCE(t.grp, a.grp) AS grp,
    COALESCE(a.findings, 0) AS audit_exceptions,
    1000.0 * COALESCE(a.findings, 0) / t.tickets AS audit_exceptions_per_1k
FROM (SELECT grp, COUNT(*) AS tickets FROM tickets GROUP BY grp) AS t
FULL JOIN (SELECT grp, COUNT(*) AS findings FROM audits GROUP BY grp) AS a ON t.grp = a.grp
