//! The metrics engine: the SQL files in `queries/` run by polars SQL over the attributed
//! tables, once per SOP version and once per process and period (spec §5).

use std::path::{Path, PathBuf};

use polars::prelude::*;
use polars::sql::SQLContext;

use crate::attribute::{Attributed, TimelineRow};
use crate::config::Config;
use crate::error::{polars_internal, Error, Result};
use crate::period::Period;

/// Which way a metric is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    Lower,
    Higher,
    None,
}

/// One query file with its header.
#[derive(Debug, Clone)]
pub struct Query {
    pub path: PathBuf,
    /// output columns, from `-- metric:`
    pub metrics: Vec<String>,
    pub definition: String,
    pub unit: String,
    pub better: Better,
    pub sql: String,
}

/// The bundled queries, for a binary run away from its source tree.
const BUNDLED: &[(&str, &str)] = &[
    ("volume.sql", include_str!("../queries/volume.sql")),
    ("reopen_rate.sql", include_str!("../queries/reopen_rate.sql")),
    ("error_rate.sql", include_str!("../queries/error_rate.sql")),
    ("escalation_rate.sql", include_str!("../queries/escalation_rate.sql")),
    ("sla_attainment.sql", include_str!("../queries/sla_attainment.sql")),
    ("mttr.sql", include_str!("../queries/mttr.sql")),
    ("audit_exceptions.sql", include_str!("../queries/audit_exceptions.sql")),
    ("change_failure_rate.sql", include_str!("../queries/change_failure_rate.sql")),
    ("analyst_cv.sql", include_str!("../queries/analyst_cv.sql")),
];

/// The metric columns of both tables, in the order of spec §5.
pub const METRIC_COLUMNS: &[&str] = &[
    "tickets",
    "resolved",
    "open",
    "reopen_rate",
    "error_rate",
    "escalation_rate",
    "sla_attainment",
    "mttr_mean_h",
    "mttr_median_h",
    "mttr_p90_h",
    "audit_exceptions",
    "audit_exceptions_per_1k",
    "changes",
    "change_failure_rate",
    "analyst_cv",
];

/// The label of a compared metric.
pub fn metric_name(metric: &str) -> &'static str {
    match metric {
        "reopen_rate" => "Reopen rate",
        "error_rate" => "Error rate",
        "escalation_rate" => "Escalation rate",
        "sla_attainment" => "SLA attainment",
        "mttr_median_h" => "MTTR (median)",
        "audit_exceptions_per_1k" => "Audit exceptions per 1k tickets",
        "change_failure_rate" => "Change failure rate",
        _ => "metric",
    }
}

/// Counts are 0, not empty, for a group with no records.
const COUNT_COLUMNS: &[&str] = &["tickets", "resolved", "open", "audit_exceptions", "changes"];

/// Where the queries are read from: `--queries DIR`, else `queries/` in the working directory or
/// the source tree, else the copies built into the binary.
pub fn query_dir(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(d) = explicit {
        return Some(d.to_path_buf());
    }
    let here = Path::new("queries");
    if here.join("volume.sql").is_file() {
        return Some(here.to_path_buf());
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("queries");
    src.join("volume.sql").is_file().then_some(src)
}

/// Load every `*.sql` file of `dir` (sorted by name), or the bundled ones.
pub fn load_queries(dir: Option<&Path>) -> Result<Vec<Query>> {
    let mut files: Vec<(PathBuf, String)> = Vec::new();
    match dir {
        Some(dir) => {
            let entries =
                std::fs::read_dir(dir).map_err(|source| Error::Unreadable { path: dir.to_path_buf(), source })?;
            let mut paths: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "sql"))
                .collect();
            paths.sort();
            for p in paths {
                let text =
                    std::fs::read_to_string(&p).map_err(|source| Error::Unreadable { path: p.clone(), source })?;
                files.push((p, text));
            }
            if files.is_empty() {
                return Err(Error::invalid(
                    dir,
                    "holds no .sql files",
                    "point --queries at a directory of metric queries",
                ));
            }
        }
        None => files.extend(BUNDLED.iter().map(|(n, t)| (PathBuf::from("queries").join(n), t.to_string()))),
    }
    files.into_iter().map(|(p, t)| parse_query(&p, &t)).collect()
}

fn parse_query(path: &Path, text: &str) -> Result<Query> {
    let mut q = Query {
        path: path.to_path_buf(),
        metrics: Vec::new(),
        definition: String::new(),
        unit: String::new(),
        better: Better::None,
        sql: String::new(),
    };
    let mut better = None;
    for line in text.lines() {
        let Some(comment) = line.trim().strip_prefix("--") else { continue };
        let Some((key, value)) = comment.split_once(':') else { continue };
        let value = value.trim();
        match key.trim() {
            "metric" => q.metrics = value.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect(),
            "definition" => q.definition = value.to_string(),
            "unit" => q.unit = value.to_string(),
            "better" => better = Some(value.to_string()),
            _ => {}
        }
    }
    q.better = match better.as_deref() {
        Some("lower") => Better::Lower,
        Some("higher") => Better::Higher,
        Some("none") => Better::None,
        other => {
            return Err(Error::invalid(
                path,
                format!("header `-- better:` is {}", other.map(|o| format!("'{o}'")).unwrap_or("missing".into())),
                "write `-- better: lower`, `higher` or `none`",
            ))
        }
    };
    if q.metrics.is_empty() {
        return Err(Error::invalid(
            path,
            "header has no `-- metric:` line",
            "name the columns the query returns, e.g. `-- metric: reopen_rate`",
        ));
    }
    q.sql = text.to_string();
    Ok(q)
}

/// Replace `:name` parameters with values from the config.
fn bind(query: &Query, cfg: &Config) -> Result<String> {
    let m = &cfg.metrics;
    let params: [(&str, String); 4] = [
        ("min_analyst_tickets", m.min_analyst_tickets.to_string()),
        ("error_includes_reopened", m.error_includes_reopened.to_string().to_uppercase()),
        ("error_includes_reassigned", m.error_includes_reassigned.to_string().to_uppercase()),
        ("error_includes_handling_error", m.error_includes_handling_error.to_string().to_uppercase()),
    ];
    sop_impact_parse::params::bind_parameters(&query.sql, &params).map_err(|name| {
        Error::invalid(
            &query.path,
            format!("unknown parameter :{name}"),
            format!("use one of {}", params.iter().map(|(k, _)| format!(":{k}")).collect::<Vec<_>>().join(", ")),
        )
    })
}

/// The columns every query may read besides the validated ones: `is_resolved`,
/// `resolution_hours`, `sla_met`. Added once per run, after attribution.
pub fn derive_ticket_columns(tickets: &DataFrame, cfg: &Config) -> LazyFrame {
    let end = coalesce(&[col("resolved_at"), col("closed_at")]);
    let hours =
        (end.clone() - col("opened_at")).dt().total_milliseconds(false).cast(DataType::Float64) / lit(3_600_000.0);
    let t = cfg.sla.target_hours;
    let target = when(col("priority").eq(lit(1)))
        .then(lit(t[0]))
        .when(col("priority").eq(lit(2)))
        .then(lit(t[1]))
        .when(col("priority").eq(lit(4)))
        .then(lit(t[3]))
        .when(col("priority").eq(lit(5)))
        .then(lit(t[4]))
        .otherwise(lit(t[2]));
    tickets
        .clone()
        .lazy()
        .with_columns([end.is_not_null().alias("is_resolved"), hours.alias("resolution_hours")])
        .with_column(
            coalesce(&[
                col("made_sla"),
                when(col("is_resolved"))
                    .then(col("resolution_hours").lt_eq(target))
                    .otherwise(lit(NULL).cast(DataType::Boolean)),
            ])
            .alias("sla_met"),
        )
}

pub(crate) fn derive_change_columns(changes: &DataFrame, cfg: &Config) -> LazyFrame {
    let code = col("close_code").str().to_lowercase();
    let mut failed = lit(false);
    for c in &cfg.metrics.change_failure_codes {
        failed = failed.or(code.clone().str().contains_literal(lit(c.to_lowercase())));
    }
    changes.clone().lazy().with_column(failed.fill_null(lit(false)).alias("failed"))
}

/// Period index of a timestamp column: months, ISO weeks or quarters since a fixed origin, on
/// the calendar of the run's time zone (a Berlin team's March is Berlin's March).
fn period_index(c: Expr, period: Period, tz: chrono_tz::Tz) -> Expr {
    let c = c.dt().convert_time_zone(TimeZone::from_chrono(&tz));
    let local_days = c.clone().dt().date().cast(DataType::Int64);
    match period {
        Period::Month => {
            c.clone().dt().year().cast(DataType::Int64) * lit(12i64) + c.dt().month().cast(DataType::Int64) - lit(1i64)
        }
        // 1970-01-01 was a Thursday; weeks start on Monday (ISO).
        Period::Week => (local_days + lit(3i64)).floor_div(lit(7i64)),
        Period::Quarter => {
            c.clone().dt().year().cast(DataType::Int64) * lit(4i64)
                + (c.dt().month().cast(DataType::Int64) - lit(1i64)).floor_div(lit(3i64))
        }
    }
}

/// The label of a period index: `2024-03`, `2024-W09`, `2024-Q1`.
pub fn period_label(index: i64, period: Period) -> String {
    match period {
        Period::Month => format!("{}-{:02}", index.div_euclid(12), index.rem_euclid(12) + 1),
        Period::Quarter => format!("{}-Q{}", index.div_euclid(4), index.rem_euclid(4) + 1),
        Period::Week => {
            let monday = chrono::DateTime::from_timestamp((index * 7 - 3) * 86_400, 0).map(|d| d.date_naive());
            monday.map(|d| d.format("%G-W%V").to_string()).unwrap_or_default()
        }
    }
}

const PERIOD_STRIDE: i64 = 1_000_000;

/// Run every query with the given group column definitions; returns one frame keyed by `grp`
/// with every metric column.
/// Parts of the processes the queries run on with `low_memory`.
const LOW_MEMORY_PARTS: u32 = 4;

pub(crate) fn run_queries(
    queries: &[Query],
    cfg: &Config,
    tickets: LazyFrame,
    changes: LazyFrame,
    audits: LazyFrame,
) -> Result<DataFrame> {
    // With low_memory, every query runs once per part of the processes: a group (`grp`) never
    // spans two processes, so the parts' results stack to the whole, while a query's working
    // memory (a group-by with a median over 10M tickets needs ~0.9 GB) shrinks with the part.
    let parts: u32 = if cfg.metrics.low_memory { LOW_MEMORY_PARTS } else { 1 };
    let contexts: Vec<SQLContext> = (0..parts)
        .map(|part| {
            let of_part = |lf: &LazyFrame| {
                if parts == 1 {
                    lf.clone()
                } else {
                    lf.clone().filter((col("process_id") % lit(parts)).eq(lit(part)))
                }
            };
            let ctx = SQLContext::new();
            ctx.register("tickets", of_part(&tickets));
            ctx.register("changes", of_part(&changes));
            ctx.register("audits", of_part(&audits));
            ctx
        })
        .collect();
    let mut result: Option<LazyFrame> = None;
    for q in queries {
        let sql = bind(q, cfg)?;
        let sql_error = |e: PolarsError| {
            Error::invalid(
                &q.path,
                format!("SQL problem: {}", e.to_string().lines().next().unwrap_or("").trim()),
                "fix the query (see queries/README.md for the tables and columns)",
            )
        };
        let mut df: Option<DataFrame> = None;
        for ctx in &contexts {
            let part = ctx.clone().execute(&sql).map_err(sql_error)?.collect().map_err(sql_error)?;
            df = Some(match df {
                None => part,
                Some(mut acc) => {
                    acc.vstack_mut_owned(part).map_err(sql_error)?;
                    acc
                }
            });
        }
        let df = df.ok_or_else(|| Error::Internal("no query context".into()))?;
        crate::diag::trace(&format!("query {}", q.path.display()));
        let names: Vec<String> = df.get_column_names().iter().map(|s| s.to_string()).collect();
        let mut wanted = vec!["grp".to_string()];
        wanted.extend(q.metrics.iter().cloned());
        if let Some(missing) = wanted.iter().find(|w| !names.contains(w)) {
            return Err(Error::invalid(
                &q.path,
                format!("query returns no column '{missing}' (it returns {})", names.join(", ")),
                "return `grp` and every column of the `-- metric:` line",
            ));
        }
        // `<metric>__n`: how many records a rate is over, for the comparisons
        wanted.extend(q.metrics.iter().map(|m| format!("{m}__n")).filter(|n| names.contains(n)));
        let df = df.select(wanted).map_err(polars_internal)?;
        let lf = df.lazy().with_column(col("grp").cast(DataType::Int64));
        result = Some(match result {
            None => lf,
            Some(acc) => acc.join(
                lf,
                [col("grp")],
                [col("grp")],
                JoinArgs::new(JoinType::Full).with_coalesce(JoinCoalesce::CoalesceColumns),
            ),
        });
    }
    result.ok_or_else(|| Error::Internal("no queries".into()))?.collect().map_err(polars_internal)
}

/// The two metric tables of spec §5.
pub struct MetricTables {
    pub sop_versions: DataFrame,
    pub process_periods: DataFrame,
}

fn ensure_metric_columns(df: DataFrame) -> Result<DataFrame> {
    let mut lf = df.lazy();
    let have: Vec<String> =
        lf.clone().collect_schema().map_err(polars_internal)?.iter_names().map(|s| s.to_string()).collect();
    for m in METRIC_COLUMNS {
        if !have.iter().any(|h| h == m) {
            let dtype = if COUNT_COLUMNS.contains(m) { DataType::UInt32 } else { DataType::Float64 };
            lf = lf.with_column(lit(NULL).cast(dtype).alias(*m));
        }
    }
    let counts: Vec<Expr> = COUNT_COLUMNS.iter().map(|c| col(*c).cast(DataType::UInt64).fill_null(lit(0u64))).collect();
    lf.with_columns(counts).collect().map_err(polars_internal)
}

/// Compute both tables.
pub fn compute(
    att: &Attributed,
    cfg: &Config,
    queries: &[Query],
    period: Period,
    tz: chrono_tz::Tz,
) -> Result<MetricTables> {
    // The tickets carry the derived columns (see `derive_ticket_columns`); each grouping's `grp`
    // is computed once, not once per query.
    let tickets = att.tickets.clone().lazy();
    let changes = derive_change_columns(&att.changes, cfg);
    let audits = att.audits.clone().lazy();
    let once = |lf: LazyFrame| -> Result<LazyFrame> { Ok(lf.collect().map_err(polars_internal)?.lazy()) };

    // Per SOP version: grp = timeline id.
    let by_version = |lf: LazyFrame| lf.with_column(col("version_id").cast(DataType::Int64).alias("grp"));
    let version_metrics = run_queries(
        queries,
        cfg,
        once(by_version(tickets.clone()))?,
        by_version(changes.clone()),
        by_version(audits.clone()),
    )?;
    let sop_versions = assemble_versions(&att.timeline, version_metrics)?;

    // Per process and period: grp = process_id * stride + period index.
    let by_period = |lf: LazyFrame| {
        lf.with_column(
            (col("process_id").cast(DataType::Int64) * lit(PERIOD_STRIDE)
                + period_index(col("attributed_at"), period, tz))
            .alias("grp"),
        )
    };
    let tickets = once(by_period(tickets))?;
    let period_metrics = run_queries(queries, cfg, tickets.clone(), by_period(changes), by_period(audits))?;
    // The versions in force during each period: the first and last version with tickets in it.
    let spans = tickets
        .group_by([col("grp")])
        .agg([col("version_id").min().alias("first_version"), col("version_id").max().alias("last_version")])
        .collect()
        .map_err(polars_internal)?;
    let process_periods = assemble_periods(att, period_metrics, spans, period)?;
    Ok(MetricTables { sop_versions, process_periods })
}

fn ms_to_datetime(name: &str, values: Vec<Option<i64>>) -> Column {
    Int64Chunked::from_iter_options(name.into(), values.into_iter())
        .into_datetime(TimeUnit::Milliseconds, Some(TimeZone::UTC))
        .into_column()
}

fn assemble_versions(timeline: &[TimelineRow], metrics: DataFrame) -> Result<DataFrame> {
    let n = timeline.len();
    let base = DataFrame::new(
        n,
        vec![
            Column::new("grp".into(), timeline.iter().map(|r| r.id as i64).collect::<Vec<_>>()),
            Column::new("sop_id".into(), timeline.iter().map(|r| r.sop_id.as_str()).collect::<Vec<_>>()),
            Column::new("version".into(), timeline.iter().map(|r| r.version.as_str()).collect::<Vec<_>>()),
            Column::new("process".into(), timeline.iter().map(|r| r.process.as_str()).collect::<Vec<_>>()),
            ms_to_datetime("effective_from", timeline.iter().map(|r| r.effective_from).collect()),
            ms_to_datetime("effective_to", timeline.iter().map(|r| r.effective_to).collect()),
            Column::new("order".into(), (0..n as u32).collect::<Vec<_>>()),
        ],
    )
    .map_err(polars_internal)?;
    let joined = base
        .lazy()
        .join(metrics.lazy(), [col("grp")], [col("grp")], JoinArgs::new(JoinType::Left))
        .collect()
        .map_err(polars_internal)?;
    let joined = ensure_metric_columns(joined)?;
    // "-" rows of SOPs whose first version predates every ticket are noise; versions themselves
    // stay even with no tickets.
    let keep = joined
        .clone()
        .lazy()
        .filter(col("version").neq(lit(crate::attribute::NO_SOP)).or(col("tickets").gt(lit(0u64))))
        .sort(["order"], SortMultipleOptions::default());
    let mut cols = vec![col("sop_id"), col("version"), col("process"), col("effective_from"), col("effective_to")];
    cols.extend(METRIC_COLUMNS.iter().map(|c| col(*c)));
    keep.select(cols).collect().map_err(polars_internal)
}

fn assemble_periods(att: &Attributed, metrics: DataFrame, spans: DataFrame, period: Period) -> Result<DataFrame> {
    let grp: Vec<i64> =
        metrics.column("grp").map_err(polars_internal)?.i64().map_err(polars_internal)?.into_no_null_iter().collect();
    let joined = metrics
        .lazy()
        .join(spans.lazy(), [col("grp")], [col("grp")], JoinArgs::new(JoinType::Left))
        .collect()
        .map_err(polars_internal)?;
    let grp_joined: Vec<i64> =
        joined.column("grp").map_err(polars_internal)?.i64().map_err(polars_internal)?.into_no_null_iter().collect();
    debug_assert_eq!(grp.len(), grp_joined.len());
    let first = joined.column("first_version").map_err(polars_internal)?.u32().map_err(polars_internal)?.clone();
    let last = joined.column("last_version").map_err(polars_internal)?.u32().map_err(polars_internal)?.clone();
    let label = |id: Option<u32>| id.and_then(|i| att.timeline.get(i as usize)).map(|r| r.version.clone());
    let mut process = Vec::new();
    let mut sop = Vec::new();
    let mut period_text = Vec::new();
    let mut in_force = Vec::new();
    for (k, g) in grp_joined.iter().enumerate() {
        let pid = g.div_euclid(PERIOD_STRIDE) as usize;
        process.push(att.processes.get(pid).cloned().unwrap_or_default());
        period_text.push(period_label(g.rem_euclid(PERIOD_STRIDE), period));
        let (f, l) = (first.get(k), last.get(k));
        sop.push(f.and_then(|i| att.timeline.get(i as usize)).map(|r| r.sop_id.clone()).unwrap_or_default());
        in_force.push(match (label(f), label(l)) {
            (Some(a), Some(b)) if a != b => format!("{a}→{b}"),
            (Some(a), _) => a,
            _ => String::new(),
        });
    }
    let mut df = joined;
    for (name, values) in
        [("process", process), ("sop_id", sop), ("period", period_text), ("version_in_force", in_force)]
    {
        df.with_column(Column::new(name.into(), values)).map_err(polars_internal)?;
    }
    let df = ensure_metric_columns(df)?;
    let mut cols = vec![col("process"), col("period"), col("sop_id"), col("version_in_force")];
    cols.extend(METRIC_COLUMNS.iter().map(|c| col(*c)));
    df.lazy().sort(["process", "grp"], SortMultipleOptions::default()).select(cols).collect().map_err(polars_internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_bound_outside_comments_and_strings() {
        let q = Query {
            path: "x.sql".into(),
            metrics: vec!["m".into()],
            definition: String::new(),
            unit: String::new(),
            better: Better::Lower,
            sql: "-- uses :min_analyst_tickets\nSELECT ':keep', x::float FROM t WHERE n >= :min_analyst_tickets AND :error_includes_reopened".into(),
        };
        let out = bind(&q, &Config::default()).unwrap();
        assert_eq!(out, "-- uses :min_analyst_tickets\nSELECT ':keep', x::float FROM t WHERE n >= 5 AND TRUE");
        let bad = Query { sql: "SELECT :nope".into(), ..q };
        assert!(bind(&bad, &Config::default()).unwrap_err().to_string().contains("unknown parameter :nope"));
    }

    #[test]
    fn period_labels() {
        assert_eq!(period_label(2024 * 12 + 2, Period::Month), "2024-03");
        assert_eq!(period_label(2024 * 4, Period::Quarter), "2024-Q1");
        // 2024-01-01 is a Monday: days since epoch 19723, week index (19723 + 3) / 7 = 2818
        assert_eq!(period_label(2818, Period::Week), "2024-W01");
    }

    #[test]
    fn bundled_queries_parse_with_headers() {
        let qs = load_queries(None).unwrap();
        let all: Vec<&String> = qs.iter().flat_map(|q| &q.metrics).collect();
        for m in METRIC_COLUMNS {
            assert!(all.iter().any(|a| a == m), "{m} has a query");
        }
        assert_eq!(qs.iter().find(|q| q.metrics[0] == "sla_attainment").unwrap().better, Better::Higher);
    }
}
