//! The SQL files in `queries/`: found (bundled, or a directory), read, and their header
//! comments parsed into each metric's facts: its name, kind, unit and which way is better.

use super::*;

/// The bundled queries, for a binary run away from its source tree.
pub(super) const BUNDLED: &[(&str, &str)] = &[
    ("volume.sql", include_str!("../../queries/volume.sql")),
    ("reopen_rate.sql", include_str!("../../queries/reopen_rate.sql")),
    ("error_rate.sql", include_str!("../../queries/error_rate.sql")),
    ("escalation_rate.sql", include_str!("../../queries/escalation_rate.sql")),
    ("sla_attainment.sql", include_str!("../../queries/sla_attainment.sql")),
    ("mttr.sql", include_str!("../../queries/mttr.sql")),
    ("audit_exceptions.sql", include_str!("../../queries/audit_exceptions.sql")),
    ("change_failure_rate.sql", include_str!("../../queries/change_failure_rate.sql")),
    ("analyst_cv.sql", include_str!("../../queries/analyst_cv.sql")),
];

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

/// One `-- key[ column]: value` line of a query's header.
pub(super) struct HeaderLine {
    pub(super) key: String,
    /// the column it is about, when it names one
    pub(super) column: Option<String>,
    pub(super) value: String,
}

/// The header: the leading block of `--` lines (comments inside the query are not read).
pub(super) fn header_lines(text: &str) -> Vec<HeaderLine> {
    text.lines()
        .map(str::trim)
        .take_while(|l| l.is_empty() || l.starts_with("--"))
        .filter_map(|l| {
            let (key, value) = l.strip_prefix("--")?.split_once(':')?;
            let mut words = key.split_whitespace();
            let key = words.next()?.to_string();
            let column = words.next().map(str::to_string);
            Some(HeaderLine { key, column, value: value.trim().to_string() })
        })
        .collect()
}

pub(super) fn list(value: &str) -> Vec<String> {
    value.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()
}

pub(super) fn parse_query(path: &Path, text: &str) -> Result<Query> {
    let bad = |problem: String, fix: &str| Error::invalid(path, problem, fix);
    let header = header_lines(text);
    let mut q = file_facts(path, text, &header)?;
    // Facts per metric: unqualified keys apply to every metric of the file, qualified ones
    // (`-- label mttr_median_h: MTTR (median)`) to that metric, and win.
    for qualified in [false, true] {
        for line in header.iter().filter(|l| l.column.is_some() == qualified) {
            metric_fact(&mut q, line).map_err(|(problem, fix)| bad(problem, fix))?;
        }
    }
    for m in &q.metrics {
        if m.compared && matches!(m.kind, Kind::Count | Kind::Value) {
            return Err(bad(
                format!("'{}' is compared but its kind is not proportion, duration or rate", m.name),
                "give it `-- kind:` or leave it out of `-- compare:`",
            ));
        }
        if m.kind == Kind::Rate && m.rate.is_none() {
            return Err(bad(
                format!("'{}' is a rate without `-- rate:`", m.name),
                "write e.g. `-- rate: audit_exceptions per 1000 tickets`",
            ));
        }
    }
    Ok(q)
}

/// The file's own keys: its columns, definition, unit, direction and order.
pub(super) fn file_facts(path: &Path, text: &str, header: &[HeaderLine]) -> Result<Query> {
    let bad = |problem: String, fix: &str| Error::invalid(path, problem, fix);
    let mut q = Query {
        path: path.to_path_buf(),
        metrics: Vec::new(),
        definition: String::new(),
        unit: String::new(),
        better: Better::None,
        order: None,
        sql: text.to_string(),
    };
    let mut better = None;
    for line in header.iter().filter(|l| l.column.is_none()) {
        let value = &line.value;
        match line.key.as_str() {
            "metric" => q.metrics = list(value).iter().map(|m| Metric::new(m)).collect(),
            "definition" => q.definition = value.clone(),
            "unit" => q.unit = value.clone(),
            "better" => better = Some(parse_better(value).ok_or_else(|| better_error(path, Some(value)))?),
            "order" => {
                q.order = Some(value.parse().map_err(|_| {
                    bad(format!("`-- order:` '{value}' is not a whole number"), "write e.g. `-- order: 45`")
                })?)
            }
            _ => {}
        }
    }
    q.better = better.ok_or_else(|| better_error(path, None))?;
    if q.metrics.is_empty() {
        return Err(bad(
            "header has no `-- metric:` line".into(),
            "name the columns the query returns, e.g. `-- metric: reopen_rate`",
        ));
    }
    for m in &mut q.metrics {
        m.better = q.better;
    }
    Ok(q)
}

/// Apply one header line to the metrics it is about; Err((problem, fix)).
pub(super) fn metric_fact(q: &mut Query, line: &HeaderLine) -> std::result::Result<(), (String, &'static str)> {
    let (key, value) = (line.key.as_str(), line.value.as_str());
    if key == "compare" {
        for name in list(value) {
            let m = q.metrics.iter_mut().find(|m| m.name == name).ok_or_else(|| {
                (
                    format!("`-- compare:` names '{name}', which is not on the `-- metric:` line"),
                    "compare columns of this query",
                )
            })?;
            m.compared = true;
        }
        return Ok(());
    }
    let per_metric = matches!(key, "kind" | "label" | "n" | "of" | "rate" | "chart" | "overview");
    if !(per_metric || key == "better" && line.column.is_some()) {
        return Ok(());
    }
    if let Some(name) = line.column.as_deref().filter(|n| !q.names().any(|m| m == *n)) {
        return Err((
            format!("`-- {key} {name}:` names a column that is not on the `-- metric:` line"),
            "qualify a key with one of the query's columns",
        ));
    }
    for m in q.metrics.iter_mut().filter(|m| line.column.as_ref().is_none_or(|n| *n == m.name)) {
        set_fact(m, key, value)
            .map_err(|why| (format!("`-- {key}:` {why}"), "see queries/README.md for the header keys"))?;
    }
    Ok(())
}

pub(super) fn parse_better(value: &str) -> Option<Better> {
    match value {
        "lower" => Some(Better::Lower),
        "higher" => Some(Better::Higher),
        "none" => Some(Better::None),
        _ => None,
    }
}

pub(super) fn better_error(path: &Path, value: Option<&str>) -> Error {
    Error::invalid(
        path,
        format!("header `-- better:` is {}", value.map(|o| format!("'{o}'")).unwrap_or("missing".into())),
        "write `-- better: lower`, `higher` or `none`",
    )
}

/// One header fact of a metric.
pub(super) fn set_fact(m: &mut Metric, key: &str, value: &str) -> std::result::Result<(), String> {
    match key {
        "label" => m.label = value.to_string(),
        "overview" => m.overview = Some(value.parse().map_err(|_| format!("'{value}' is not a column position"))?),
        "n" => m.n = value.to_string(),
        "of" => m.of = value.to_string(),
        "better" => m.better = parse_better(value).ok_or("must be lower, higher or none")?,
        "kind" => {
            m.kind = match value {
                "count" => Kind::Count,
                "proportion" => Kind::Proportion,
                "duration" => Kind::Duration,
                "rate" => Kind::Rate,
                "value" => Kind::Value,
                _ => return Err(format!("'{value}' is not count, proportion, duration, rate or value")),
            }
        }
        "rate" => {
            let words: Vec<&str> = value.split_whitespace().collect();
            let [events, "per", per, exposure] = words.as_slice() else {
                return Err(format!("'{value}' is not `EVENTS per NUMBER EXPOSURE`"));
            };
            let per =
                per.parse::<f64>().ok().filter(|p| *p > 0.0).ok_or(format!("'{per}' is not a positive number"))?;
            m.rate = Some(RateOf { events: events.to_string(), per, exposure: exposure.to_string() });
        }
        "chart" => {
            let parts: Vec<&str> = value.split(',').map(str::trim).collect();
            let (Some(position), Some(over), true) = (parts.first(), parts.last(), parts.len() >= 3) else {
                return Err(format!("'{value}' is not `POSITION, AXIS UNIT, COUNT COLUMN`"));
            };
            let position = position.parse().map_err(|_| format!("'{position}' is not a panel position"))?;
            let axis = parts.get(1..parts.len() - 1).unwrap_or_default().join(", ");
            m.chart = Some(Panel { position, axis, over: over.to_string() });
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn bundled_queries_give_the_documented_columns_and_facts() {
        let qs = load_queries(None).unwrap();
        let names: Vec<&str> = columns(&qs).iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            [
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
                "analyst_cv"
            ],
            "the order of the metric tables"
        );
        let compared: Vec<&str> = compared(&qs).iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            compared,
            [
                "reopen_rate",
                "error_rate",
                "escalation_rate",
                "sla_attainment",
                "mttr_median_h",
                "audit_exceptions_per_1k",
                "change_failure_rate"
            ]
        );
        let panels: Vec<&str> = chart_panels(&qs).iter().map(|m| m.label.as_str()).collect();
        assert_eq!(panels, ["Reopen rate", "Error rate", "MTTR (median)", "SLA attainment"]);
        let sla = metric(&qs, "sla_attainment").unwrap();
        assert_eq!((sla.better, sla.kind), (Better::Higher, Kind::Proportion));
        let cfr = metric(&qs, "change_failure_rate").unwrap();
        assert_eq!((cfr.n.as_str(), cfr.of.as_str()), ("changes", "change requests"));
        let audit = metric(&qs, "audit_exceptions_per_1k").unwrap().rate.clone().unwrap();
        assert_eq!(
            (audit.events.as_str(), audit.per, audit.exposure.as_str()),
            ("audit_exceptions", 1000.0, "tickets")
        );
    }

    #[test]
    fn header_keys_are_checked() {
        let parse = |text: &str| parse_query(Path::new("q.sql"), text);
        assert!(parse("-- metric: a\n-- better: lower\nSELECT 1").is_ok(), "a minimal header");
        let e = parse("-- metric: a\n-- better: lower\n-- label b: B\nSELECT 1").unwrap_err().to_string();
        assert!(e.contains("`-- label b:`"), "{e}");
        let e = parse("-- metric: a\n-- better: lower\n-- compare: a\nSELECT 1").unwrap_err().to_string();
        assert!(e.contains("is compared but its kind"), "{e}");
        let q = parse("-- metric: a, b\n-- better: lower\n-- kind: proportion\n-- kind b: count\nSELECT 1\n-- label a: not read\n").unwrap();
        assert_eq!((q.metrics[0].kind, q.metrics[1].kind), (Kind::Proportion, Kind::Count));
        assert_eq!(q.metrics[0].label, "a", "comments inside the query are not header");
    }
}
