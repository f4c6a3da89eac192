//! Running the queries: `:name` parameters bound from the configuration, the tables registered
//! in polars SQL contexts, and the results of every query joined on `grp`.

use super::*;

/// Replace `:name` parameters with values from the config.
pub(super) fn bind(query: &Query, cfg: &Config) -> Result<String> {
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

/// Parts of the groups the queries run on with `low_memory`.
pub(super) const LOW_MEMORY_PARTS: u32 = 4;

/// Run every query with the given group column definitions; returns one frame keyed by `grp`
/// with every metric column.
pub(crate) fn run_queries(
    queries: &[Query],
    cfg: &Config,
    tickets: LazyFrame,
    changes: LazyFrame,
    audits: LazyFrame,
) -> Result<DataFrame> {
    run_queries_in(queries, cfg, &query_contexts(cfg, &tickets, &changes, &audits))
}

/// Run every query once per part of the groups, each part its (tickets, changes, audits), the
/// results stacked: for tables whose groups come in disjoint parts (the layers of comparison
/// windows), a query's working memory is then that of one part.
pub(crate) fn run_queries_in_parts(
    queries: &[Query],
    cfg: &Config,
    parts: Vec<(LazyFrame, LazyFrame, LazyFrame)>,
) -> Result<DataFrame> {
    // with low_memory, each part is split further as `query_contexts` splits a whole table
    let contexts: Vec<SQLContext> = parts
        .into_iter()
        .flat_map(|(tickets, changes, audits)| query_contexts(cfg, &tickets, &changes, &audits))
        .collect();
    run_queries_in(queries, cfg, &contexts)
}

pub(super) fn run_queries_in(queries: &[Query], cfg: &Config, contexts: &[SQLContext]) -> Result<DataFrame> {
    let mut result: Option<LazyFrame> = None;
    for q in queries {
        let lf = run_query(q, cfg, contexts)?.lazy().with_column(col("grp").cast(DataType::Int64));
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
    Ok(result.ok_or_else(|| Error::Internal("no queries".into()))?.collect()?)
}

/// The SQL contexts the queries run in: one, or with low_memory one per part of the groups
/// (`grp` modulo the parts). The parts' results stack to the whole, while a query's working
/// memory (a group-by with a median over 10M tickets needs ~0.7 GB) shrinks. Parts of the groups
/// rather than of the processes: one process often holds half the tickets (measured at 10M:
/// 1.68 GB peak by groups, 1.89 GB by processes).
pub(super) fn query_contexts(
    cfg: &Config,
    tickets: &LazyFrame,
    changes: &LazyFrame,
    audits: &LazyFrame,
) -> Vec<SQLContext> {
    let parts: u32 = if cfg.metrics.low_memory { LOW_MEMORY_PARTS } else { 1 };
    (0..parts)
        .map(|part| {
            let of_part = |lf: &LazyFrame| {
                if parts == 1 {
                    lf.clone()
                } else {
                    lf.clone().filter((col("grp") % lit(i64::from(parts))).eq(lit(i64::from(part))))
                }
            };
            let ctx = SQLContext::new();
            ctx.register("tickets", of_part(tickets));
            ctx.register("changes", of_part(changes));
            ctx.register("audits", of_part(audits));
            ctx
        })
        .collect()
}

/// One query over every context, stacked: `grp`, its metric columns and their `__n` counts.
pub(super) fn run_query(q: &Query, cfg: &Config, contexts: &[SQLContext]) -> Result<DataFrame> {
    let sql = bind(q, cfg)?;
    let sql_error = |e: PolarsError| {
        Error::invalid(
            &q.path,
            format!("SQL problem: {}", e.to_string().lines().next().unwrap_or("").trim()),
            "fix the query (see queries/README.md for the tables and columns)",
        )
    };
    let mut df: Option<DataFrame> = None;
    for ctx in contexts {
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
    // A query's working memory (a filtered copy of the columns it reads, its group-by) is freed
    // when it ends; handed back now, the next query does not stack its own on top of it.
    crate::diag::release_freed_memory();
    crate::diag::trace(&format!("query {}", q.path.display()));
    let names: Vec<String> = df.get_column_names().iter().map(|s| s.to_string()).collect();
    let mut wanted = vec!["grp".to_string()];
    wanted.extend(q.names().map(str::to_string));
    if let Some(missing) = wanted.iter().find(|w| !names.contains(w)) {
        return Err(Error::invalid(
            &q.path,
            format!("query returns no column '{missing}' (it returns {})", names.join(", ")),
            "return `grp` and every column of the `-- metric:` line",
        ));
    }
    // `<metric>__n`: how many records a proportion is over, for the comparisons
    wanted.extend(q.names().map(|m| format!("{m}__n")).filter(|n| names.contains(n)));
    Ok(df.select(wanted)?)
}

/// Whether a query names `name` as a whole word (not as part of a longer name), outside its
/// comments.
pub(crate) fn named(queries: &[Query], name: &str) -> bool {
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    queries.iter().any(|q| {
        let sql = sop_impact_parse::params::without_comments(&q.sql);
        sql.match_indices(name)
            .any(|(at, _)| !word(sql[..at].chars().next_back()) && !word(sql[at + name.len()..].chars().next()))
    })
}

/// Whether a query reads the ticket column `name`: names it, or its `grp_name` pair key.
pub(crate) fn reads_column(queries: &[Query], name: &str) -> bool {
    named(queries, name) || named(queries, &format!("grp_{name}"))
}

/// Every metric column present (empty where no query row reached it); counts 0, not empty.
pub(super) fn ensure_metric_columns(df: DataFrame, queries: &[Query]) -> Result<DataFrame> {
    let mut lf = df.lazy();
    let have: Vec<String> = lf.clone().collect_schema()?.iter_names().map(|s| s.to_string()).collect();
    let metrics = columns(queries);
    for m in &metrics {
        if !have.contains(&m.name) {
            let dtype = if m.kind == Kind::Count { DataType::UInt32 } else { DataType::Float64 };
            lf = lf.with_column(lit(NULL).cast(dtype).alias(m.name.as_str()));
        }
    }
    let counts: Vec<Expr> = metrics
        .iter()
        .filter(|m| m.kind == Kind::Count)
        .map(|m| col(m.name.as_str()).cast(DataType::UInt64).fill_null(lit(0u64)))
        .collect();
    Ok(lf.with_columns(counts).collect()?)
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_bound_outside_comments_and_strings() {
        let q = Query {
            path: "x.sql".into(),
            metrics: vec![Metric::new("m")],
            definition: String::new(),
            unit: String::new(),
            better: Better::Lower,
            order: None,
            sql: "-- uses :min_analyst_tickets\nSELECT ':keep', x::float FROM t WHERE n >= :min_analyst_tickets AND :error_includes_reopened".into(),
        };
        let out = bind(&q, &Config::default()).unwrap();
        assert_eq!(out, "-- uses :min_analyst_tickets\nSELECT ':keep', x::float FROM t WHERE n >= 5 AND TRUE");
        let bad = Query { sql: "SELECT :nope".into(), ..q };
        assert!(bind(&bad, &Config::default()).unwrap_err().to_string().contains("unknown parameter :nope"));
    }
}
