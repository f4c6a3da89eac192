//! Source profiles: which header of a vendor export feeds which canonical column (the table in
//! docs/inputs.md), and how a profile is detected from a header.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::config::InputMapping;
use sop_impact_parse::values;

/// Which vendor layout an export has; `Auto` detects it from the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    #[default]
    Auto,
    Canonical,
    Servicenow,
    Jira,
    Zendesk,
    Freshdesk,
    Glpi,
    Otrs,
}

impl Profile {
    pub fn name(self) -> &'static str {
        match self {
            Profile::Auto => "auto",
            Profile::Canonical => "canonical",
            Profile::Servicenow => "servicenow",
            Profile::Jira => "jira",
            Profile::Zendesk => "zendesk",
            Profile::Freshdesk => "freshdesk",
            Profile::Glpi => "glpi",
            Profile::Otrs => "otrs",
        }
    }
}

/// Header names compare case- and whitespace-insensitively.
pub fn normalise_header(h: &str) -> String {
    h.chars().filter(|c| !c.is_whitespace()).flat_map(|c| c.to_lowercase()).collect()
}

/// The four logical inputs (docs/inputs.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum InputKind {
    Tickets,
    Sops,
    Changes,
    Audits,
}

impl InputKind {
    pub fn name(self) -> &'static str {
        match self {
            InputKind::Tickets => "tickets",
            InputKind::Sops => "sops",
            InputKind::Changes => "changes",
            InputKind::Audits => "audits",
        }
    }
}

/// Where a canonical column comes from in one export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// not in this export
    Missing,
    /// the value of one column
    Column(usize),
    /// ServiceNow `escalation`: `Normal` means not escalated, any other level means escalated
    EscalationLevel(usize),
    /// true when any of these columns (Jira `Labels`, Zendesk `Tags`) holds the word `escalated`
    HasLabel(Vec<usize>),
    /// Zendesk `Group stations`: the number of groups that held the ticket, so reassignments = n − 1
    StationsMinusOne(usize),
    /// Jira `Time to resolution`: `breached` / `met` text
    SlaText(usize),
    /// a column whose values the configuration maps (value in the file → canonical value;
    /// values not in the map are read as they are)
    Mapped(usize, Arc<BTreeMap<String, String>>),
    /// a timestamp column with a format from the configuration, tried before the built-in ones
    Dated(usize, Arc<str>),
    /// one part of a column's values split once at a separator: GLPI's `Access > Password reset`
    /// (0: the category, 1: the subcategory), OTRS's `Access::Password reset`, the first of
    /// GLPI's `<br>`-joined technicians
    Part(usize, &'static str, usize),
}

impl Source {
    pub fn columns(&self) -> Vec<usize> {
        match self {
            Source::Missing => vec![],
            Source::Column(i)
            | Source::EscalationLevel(i)
            | Source::StationsMinusOne(i)
            | Source::SlaText(i)
            | Source::Mapped(i, _)
            | Source::Dated(i, _)
            | Source::Part(i, _, _) => vec![*i],
            Source::HasLabel(v) => v.clone(),
        }
    }
}

/// A resolved mapping of one file onto the canonical columns of its input kind.
#[derive(Debug, Clone)]
pub struct Mapping {
    pub profile: Profile,
    /// why this profile was chosen (for `auto`), or "given with --profile"
    pub reason: String,
    /// canonical column → source, in canonical order
    pub columns: Vec<(&'static str, Source)>,
}

impl Mapping {
    /// How the profile reads `a/b/yyyy` dates when neither --date-order nor the values settle
    /// it: ServiceNow list exports are day-first.
    pub fn default_date_order(&self) -> Option<sop_impact_parse::time::DateOrder> {
        matches!(self.profile, Profile::Servicenow | Profile::Glpi).then_some(sop_impact_parse::time::DateOrder::Dmy)
    }

    pub fn source(&self, canonical: &str) -> &Source {
        self.columns.iter().find(|(c, _)| *c == canonical).map(|(_, s)| s).unwrap_or(&Source::Missing)
    }

    /// "number→ticket_id, opened_at→opened_at, …" for the summary.
    pub fn describe(&self, headers: &[String]) -> String {
        let mut parts = Vec::new();
        for (canon, src) in &self.columns {
            let names: Vec<&str> = src.columns().iter().filter_map(|&i| headers.get(i)).map(String::as_str).collect();
            if !names.is_empty() {
                parts.push(format!("{}→{canon}", names.join("+")));
            }
        }
        parts.join(", ")
    }
}

/// GLPI's opening-date header in English, Portuguese, French and Spanish.
const GLPI_OPENED: [&str; 4] = ["openingdate", "datadeabertura", "dated'ouverture", "fechadeapertura"];
const GLPI_CATEGORY: [&str; 4] = ["category", "categoria", "catégorie", "categoría"];
const GLPI_GROUP: [&str; 4] = [
    "assignedto-techniciangroup",
    "atribuídopara-grupotécnico",
    "attribuéà-groupedetechniciens",
    "asignadoa-grupotécnico",
];
const GLPI_TECHNICIAN: [&str; 4] =
    ["assignedto-technician", "atribuídopara-técnico", "attribuéà-technicien", "asignadoa-técnico"];
const PRIORITY: [&str; 5] = ["priority", "prioridade", "priorité", "prioridad", "priorität"];

/// Priorities whose words mean something else elsewhere: GLPI's top level is `Major` (Jira's
/// `Major` is its second); OTRS numbers its levels the other way round (5 is the most urgent).
fn priority_words(profile: Profile) -> Option<Arc<BTreeMap<String, String>>> {
    let pairs: &[(&str, &str)] = match profile {
        Profile::Glpi => &[("Major", "1"), ("Majeure", "1"), ("Principal", "1"), ("Mayor", "1")],
        Profile::Otrs => &[
            ("5 very high", "1"),
            ("4 high", "2"),
            ("3 normal", "3"),
            ("2 low", "4"),
            ("1 very low", "5"),
            ("5 muito alta", "1"),
            ("4 alta", "2"),
            ("2 baixa", "4"),
            ("1 muito baixa", "5"),
        ],
        _ => return None,
    };
    Some(Arc::new(pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()))
}

/// Candidate header names (already normalised) per canonical ticket column and profile.
fn ticket_aliases(profile: Profile, canonical: &str) -> &'static [&'static str] {
    use Profile::*;
    match (profile, canonical) {
        (Servicenow, "ticket_id") => &["number"],
        // Jira's headers in English, Spanish, Portuguese, French and German.
        (Jira, "ticket_id") => &[
            "issuekey",
            "key",
            "clavedeincidencia",
            "chavedoitem",
            "chavedaitem",
            "cléduticket",
            "clédeticket",
            "vorgangsschlüssel",
        ],
        (Freshdesk, "ticket_id") => &["ticketid"],
        (Glpi, "ticket_id") => &["id"],
        (Otrs, "ticket_id") => &["ticket#", "ticketnumber", "número"],
        (Zendesk, "ticket_id") => &["id", "ticketid"],
        (_, "ticket_id") => &["ticket_id", "ticketid", "id", "number"],
        (Servicenow, "opened_at") => &["opened_at", "opened", "sys_created_on"],
        (Jira, "opened_at") => &["created", "creada", "criado", "créé", "créée", "erstellt"],
        (Freshdesk, "opened_at") => &["createdtime"],
        (Glpi, "opened_at") => &GLPI_OPENED,
        (Otrs, "opened_at") => &["created", "criado", "erstellt", "créé"],
        (Zendesk, "opened_at") => &["createdat", "created"],
        (_, "opened_at") => &["opened_at", "created_at", "opened"],
        (Servicenow, "resolved_at") => &["resolved_at", "resolved"],
        (Jira, "resolved_at") => &["resolved", "resuelta", "resolvido", "résolu", "résolue", "erledigt"],
        (Freshdesk, "resolved_at") => &["resolvedtime"],
        (Glpi, "resolved_at") => &[
            "resolutiondate",
            "datadasolução",
            "datederésolution",
            "datedesolution",
            "fechadesolución",
            "fechaderesolución",
        ],
        // OTRS closes what it solves: the close time is the resolution.
        (Otrs, "resolved_at") => &["closetime", "closed", "horadefechamento", "fechado"],
        (Zendesk, "resolved_at") => &["solvedat", "solved"],
        (_, "resolved_at") => &["resolved_at", "resolved"],
        (Servicenow, "closed_at") => &["closed_at", "closed"],
        (Jira | Zendesk, "closed_at") => &[],
        (Freshdesk, "closed_at") => &["closedtime"],
        (Glpi, "closed_at") => &["closingdate", "datadefechamento", "datedeclôture", "fechadecierre"],
        (Otrs, "closed_at") => &[],
        (_, "closed_at") => &["closed_at"],
        (Servicenow, "status") => &["state", "incident_state"],
        (_, "status") => &["status", "state", "estado", "statut"],
        (_, "priority") => &["priority", "prioridad", "prioridade", "priorité", "priorität"],
        (Jira, "category") => &[
            "customfield(requesttype)",
            "requesttype",
            "campopersonalizado(requesttype)",
            "campopersonalizado(tipodesolicitud)",
        ],
        (Zendesk, "category") => &["category", "customfield(category)", "group"],
        (_, "category") => &["category"],
        (Jira, "subcategory") => {
            &["component/s", "components", "component", "componentes", "composants", "komponenten"]
        }
        (Freshdesk, "subcategory") => &["subcategory", "type"],
        (Zendesk, "subcategory") => &["tickettype", "type"],
        (_, "subcategory") => &["subcategory"],
        (Servicenow, "assignment_group") => &["assignment_group"],
        (Jira, "assignment_group") => {
            &["customfield(team)", "team", "campopersonalizado(team)", "campopersonalizado(equipo)"]
        }
        (Zendesk, "assignment_group") => &["group"],
        (Otrs, "assignment_group") => &["queue", "fila"],
        (_, "assignment_group") => &["assignment_group", "group", "team"],
        (Servicenow, "assignee") => &["assigned_to"],
        (Freshdesk, "assignee") => &["agent"],
        (Otrs, "assignee") => &["agent/owner", "owner", "agente/proprietário", "proprietário"],
        (_, "assignee") => &["assignee", "assigned_to", "responsable", "personaasignada", "responsável", "bearbeiter"],
        (Zendesk, "reopen_count") => &["reopens"],
        (Jira, "reopen_count") => &[],
        (_, "reopen_count") => &["reopen_count", "reopens"],
        (Jira | Zendesk | Freshdesk | Glpi | Otrs, "reassignment_count") => &[],
        (_, "reassignment_count") => &["reassignment_count"],
        (Servicenow, "escalated") => &["escalated"],
        (Jira | Zendesk | Freshdesk | Glpi | Otrs, "escalated") => &[],
        (_, "escalated") => &["escalated"],
        (Jira | Freshdesk | Glpi | Otrs, "made_sla") => &[],
        (_, "made_sla") => &["made_sla"],
        (_, "handling_error") => &["handling_error"],
        (Servicenow, "sys_updated_at") => &["sys_updated_at", "sys_updated_on"],
        (Servicenow, "sys_mod_count") => &["sys_mod_count"],
        _ => &[],
    }
}

pub const TICKET_COLUMNS: &[&str] = &[
    "ticket_id",
    "opened_at",
    "resolved_at",
    "closed_at",
    "status",
    "priority",
    "category",
    "subcategory",
    "assignment_group",
    "assignee",
    "reopen_count",
    "reassignment_count",
    "escalated",
    "made_sla",
    "handling_error",
    // event-log keys (ServiceNow): which row of an incident is the latest
    "sys_updated_at",
    "sys_mod_count",
];

pub const SOP_COLUMNS: &[(&str, &[&str])] = &[
    ("sop_id", &["sop_id", "sop", "id"]),
    ("version", &["version"]),
    ("process", &["process", "process_name", "name", "title"]),
    ("category", &["category"]),
    ("subcategory", &["subcategory"]),
    ("effective_from", &["effective_from", "effective", "effective_date"]),
    ("owner", &["owner"]),
    ("approved_by", &["approved_by", "approver"]),
    ("approved_at", &["approved_at", "approval_date"]),
    ("next_review", &["next_review", "review_due", "next_review_date"]),
    ("change_summary", &["change_summary", "summary", "changes"]),
    ("retired_at", &["retired_at", "retired"]),
];

pub const CHANGE_COLUMNS: &[(&str, &[&str])] = &[
    ("change_id", &["change_id", "number", "id"]),
    ("opened_at", &["opened_at", "start_date", "planned_start_date", "sys_created_on"]),
    ("end_date", &["end_date", "closed_at", "planned_end_date"]),
    ("type", &["type"]),
    ("risk", &["risk"]),
    ("close_code", &["close_code", "closure_code", "outcome"]),
    ("category", &["category"]),
    ("subcategory", &["subcategory"]),
    ("cmdb_ci", &["cmdb_ci", "configuration_item"]),
];

pub const AUDIT_COLUMNS: &[(&str, &[&str])] = &[
    ("finding_id", &["finding_id", "id", "number"]),
    ("raised_at", &["raised_at", "opened_at", "date", "found_at"]),
    ("process", &["process"]),
    ("category", &["category"]),
    ("subcategory", &["subcategory"]),
    ("sop_id", &["sop_id"]),
    ("control_id", &["control_id", "control"]),
    ("severity", &["severity"]),
    ("status", &["status", "state"]),
    ("description", &["description", "short_description"]),
];

/// The columns an input cannot do without.
pub fn required(kind: InputKind) -> &'static [&'static str] {
    match kind {
        InputKind::Tickets => &["ticket_id", "opened_at"],
        InputKind::Sops => &["sop_id", "version", "effective_from", "category"],
        InputKind::Changes => &["change_id", "opened_at"],
        InputKind::Audits => &["finding_id", "raised_at"],
    }
}

fn find(norm: &[String], aliases: &[&str]) -> Option<usize> {
    aliases.iter().find_map(|a| norm.iter().position(|h| h == a))
}

fn map_tickets(profile: Profile, norm: &[String]) -> Vec<(&'static str, Source)> {
    TICKET_COLUMNS
        .iter()
        .map(|&canon| {
            let direct = find(norm, ticket_aliases(profile, canon)).map(Source::Column);
            let src = match (profile, canon) {
                (Profile::Servicenow, "escalated") => {
                    direct.or_else(|| find(norm, &["escalation"]).map(Source::EscalationLevel))
                }
                (Profile::Jira, "escalated") => {
                    labels(norm, "labels").or_else(|| labels(norm, "etiquetas")).or_else(|| labels(norm, "étiquettes"))
                }
                (Profile::Zendesk | Profile::Freshdesk, "escalated") => labels(norm, "tags"),
                (Profile::Freshdesk, "made_sla") => find(norm, &["resolutionstatus"]).map(Source::SlaText),
                (Profile::Zendesk, "reassignment_count") => {
                    find(norm, &["groupstations", "assigneestations"]).map(Source::StationsMinusOne)
                }
                (Profile::Jira, "made_sla") => {
                    find(norm, &["customfield(timetoresolution)", "timetoresolution"]).map(Source::SlaText)
                }
                (Profile::Glpi | Profile::Otrs, "priority") => {
                    let words = priority_words(profile);
                    find(norm, &PRIORITY).map(|i| words.map_or(Source::Column(i), |w| Source::Mapped(i, w)))
                }
                (Profile::Glpi, "category") => find(norm, &GLPI_CATEGORY).map(|i| Source::Part(i, " > ", 0)),
                (Profile::Glpi, "subcategory") => find(norm, &GLPI_CATEGORY).map(|i| Source::Part(i, " > ", 1)),
                (Profile::Glpi, "assignment_group") => find(norm, &GLPI_GROUP).map(|i| Source::Part(i, "<br>", 0)),
                (Profile::Glpi, "assignee") => find(norm, &GLPI_TECHNICIAN).map(|i| Source::Part(i, "<br>", 0)),
                (Profile::Otrs, "category") => find(norm, &["service", "serviço"]).map(|i| Source::Part(i, "::", 0)),
                (Profile::Otrs, "subcategory") => find(norm, &["service", "serviço"]).map(|i| Source::Part(i, "::", 1)),
                _ => direct,
            };
            (canon, src.unwrap_or(Source::Missing))
        })
        .collect()
}

fn labels(norm: &[String], name: &str) -> Option<Source> {
    let cols: Vec<usize> = norm.iter().enumerate().filter(|(_, h)| *h == name).map(|(i, _)| i).collect();
    (!cols.is_empty()).then_some(Source::HasLabel(cols))
}

fn map_simple(spec: &[(&'static str, &[&str])], norm: &[String]) -> Vec<(&'static str, Source)> {
    spec.iter()
        .map(|(canon, aliases)| (*canon, find(norm, aliases).map(Source::Column).unwrap_or(Source::Missing)))
        .collect()
}

/// Detect the profile of a ticket export from its header: each vendor has header names no other
/// uses. Returns the profile and the reason, in words.
pub fn detect_ticket_profile(headers: &[String]) -> Option<(Profile, String)> {
    let norm: Vec<String> = headers.iter().map(|h| normalise_header(h)).collect();
    let has = |n: &str| norm.iter().any(|h| h == n);
    if has("ticket_id") && has("opened_at") {
        return Some((Profile::Canonical, "header has ticket_id and opened_at".into()));
    }
    if has("number") && (has("opened_at") || has("sys_created_on")) {
        let extra: Vec<&str> = ["sys_updated_at", "sys_mod_count", "assigned_to", "assignment_group", "incident_state"]
            .into_iter()
            .filter(|n| has(n))
            .collect();
        let extra = if extra.is_empty() { String::new() } else { format!(" (and {})", extra.join(", ")) };
        return Some((Profile::Servicenow, format!("header has number and opened_at{extra}")));
    }
    if has("issuekey") && has("created") {
        return Some((Profile::Jira, "header has 'Issue key' and 'Created'".into()));
    }
    let jira_key = ["clavedeincidencia", "chavedoitem", "chavedaitem", "clédeticket", "vorgangsschlüssel"];
    let jira_created = ["creada", "criado", "créé", "créée", "erstellt"];
    if let (Some(k), Some(c)) = (jira_key.iter().find(|n| has(n)), jira_created.iter().find(|n| has(n))) {
        let name = |n: &str| headers.iter().find(|h| normalise_header(h) == n).cloned().unwrap_or_default();
        return Some((Profile::Jira, format!("header has '{}' and '{}' (Jira in another language)", name(k), name(c))));
    }
    if has("ticketid") && has("createdtime") {
        return Some((Profile::Freshdesk, "header has 'Ticket ID' and 'Created time'".into()));
    }
    if let Some(opened) = GLPI_OPENED.iter().find(|n| has(n)).filter(|_| has("id")) {
        let name = headers.iter().find(|h| normalise_header(h) == *opened).cloned().unwrap_or_default();
        return Some((Profile::Glpi, format!("header has 'ID' and '{name}' (GLPI)")));
    }
    if has("ticket#") && ["created", "criado", "erstellt", "créé"].iter().any(|n| has(n)) {
        return Some((Profile::Otrs, "header has 'Ticket#' and a creation time (OTRS/Znuny)".into()));
    }
    if (has("id") || has("ticketid")) && has("createdat") {
        return Some((Profile::Zendesk, "header has 'Id' and 'Created at'".into()));
    }
    None
}

/// Map a header onto the canonical columns of `kind`. For tickets and changes the profile is
/// the one given, or detected (`auto`).
/// Why a header could not be mapped: the file lacks a required column, or the configuration's
/// mapping does not fit the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MapError {
    Missing(String),
    Config(String),
}

/// The event-log keys under their tool-neutral names: any tool's event log (one row per update of
/// a ticket) names its update time `updated_at` and its revision `revision`; they are the keys
/// ServiceNow calls `sys_updated_at` and `sys_mod_count`.
fn event_key(canonical: &str) -> &str {
    match canonical {
        "updated_at" => "sys_updated_at",
        "revision" => "sys_mod_count",
        other => other,
    }
}

/// Whether a canonical column holds timestamps.
fn is_timestamp(canonical: &str) -> bool {
    canonical.ends_with("_at") || matches!(canonical, "effective_from" | "next_review" | "end_date")
}

/// Apply the configuration's mapping to `columns`: its headers first, then its value maps and
/// date format. `what` is the input kind's name, for messages.
fn apply_config(
    columns: &mut [(&'static str, Source)],
    explicit: &InputMapping,
    headers: &[String],
    what: &str,
) -> Result<(), MapError> {
    let known: Vec<&str> = columns.iter().map(|(c, _)| *c).collect();
    let unknown = |key: &str, name: &str| {
        MapError::Config(format!(
            "{}: {key}.{} is not a column of {what}; its columns are {}",
            explicit.where_is(key, name),
            values::clip(name, 60),
            known.join(", ")
        ))
    };
    for (canonical, header) in &explicit.columns {
        let slot = columns
            .iter_mut()
            .find(|(c, _)| *c == event_key(canonical))
            .ok_or_else(|| unknown("columns", canonical))?;
        let wanted = normalise_header(header);
        let at = headers
            .iter()
            .position(|h| h.trim() == header.trim())
            .or_else(|| headers.iter().position(|h| normalise_header(h) == wanted))
            .or_else(|| by_position(header).filter(|&i| i < headers.len()))
            .ok_or_else(|| {
                MapError::Config(format!(
                    "{}: columns.{canonical} = '{}' is not a header of this file; found {} columns: {}",
                    explicit.where_is("columns", canonical),
                    values::clip(header, 60),
                    headers.len(),
                    headers.iter().map(|h| format!("'{}'", values::clip(h, 60))).collect::<Vec<_>>().join(", ")
                ))
            })?;
        slot.1 = Source::Column(at);
    }
    for (canonical, map) in &explicit.values {
        let slot =
            columns.iter_mut().find(|(c, _)| *c == event_key(canonical)).ok_or_else(|| unknown("values", canonical))?;
        match slot.1 {
            Source::Column(i) => slot.1 = Source::Mapped(i, Arc::new(map.clone())),
            Source::Missing => {}
            _ => {
                return Err(MapError::Config(format!(
                    "{}: values.{canonical}: this profile derives {canonical} from several columns; name its column with columns.{canonical}",
                    explicit.where_is("values", canonical)
                )))
            }
        }
    }
    if let Some(format) = &explicit.date_format {
        let format: Arc<str> = Arc::from(format.as_str());
        for (canonical, src) in columns.iter_mut() {
            if let (true, Source::Column(i)) = (is_timestamp(canonical), &*src) {
                *src = Source::Dated(*i, format.clone());
            }
        }
    }
    Ok(())
}

pub fn map_header(
    kind: InputKind,
    profile: Profile,
    headers: &[String],
    explicit: &InputMapping,
) -> Result<Mapping, MapError> {
    let norm: Vec<String> = headers.iter().map(|h| normalise_header(h)).collect();
    let (profile, reason) = match (kind, profile) {
        (InputKind::Tickets, Profile::Auto) => detect_ticket_profile(headers)
            .unwrap_or((Profile::Canonical, "no vendor header recognised; read as canonical".into())),
        (InputKind::Tickets, p) => (p, "given with --profile".into()),
        (InputKind::Changes, Profile::Servicenow) => (Profile::Servicenow, "given with --profile".into()),
        (InputKind::Changes, _) => {
            if norm.iter().any(|h| h == "number") && !norm.iter().any(|h| h == "change_id") {
                (Profile::Servicenow, "header has number".into())
            } else {
                (Profile::Canonical, "header has change_id".into())
            }
        }
        _ => (Profile::Canonical, "SOP history and audit findings use the canonical layout".into()),
    };
    let columns = match kind {
        InputKind::Tickets => map_tickets(profile, &norm),
        InputKind::Sops => map_simple(SOP_COLUMNS, &norm),
        InputKind::Changes => map_simple(CHANGE_COLUMNS, &norm),
        InputKind::Audits => map_simple(AUDIT_COLUMNS, &norm),
    };
    let mut columns = columns;
    apply_config(&mut columns, explicit, headers, kind.name())?;
    // Jira writes a multi-valued field (components, labels, versions, in every language) as one
    // column per value, the first the main value: its profile reads the first.
    let vendor_repeats = profile == Profile::Jira;
    refuse_repeated_headers(&columns, headers, explicit, kind.name(), vendor_repeats)?;
    let reason =
        if explicit.columns.is_empty() { reason } else { format!("{reason}; columns named in the configuration") };
    let mapping = Mapping { profile, reason, columns };
    let missing: Vec<&str> = required(kind).iter().copied().filter(|c| *mapping.source(c) == Source::Missing).collect();
    if !missing.is_empty() {
        let wanted: Vec<String> = missing
            .iter()
            .map(|c| {
                let names = match kind {
                    InputKind::Tickets => ticket_aliases(profile, c).to_vec(),
                    InputKind::Sops => aliases_of(SOP_COLUMNS, c),
                    InputKind::Changes => aliases_of(CHANGE_COLUMNS, c),
                    InputKind::Audits => aliases_of(AUDIT_COLUMNS, c),
                };
                format!("{c} (as {})", names.join(" or "))
            })
            .collect();
        return Err(MapError::Missing(format!(
            "missing required column{} {} for the {} profile; found {} column{}: {}",
            if missing.len() > 1 { "s" } else { "" },
            wanted.join(", "),
            profile.name(),
            headers.len(),
            if headers.len() == 1 { "" } else { "s" },
            headers.iter().map(|h| format!("'{}'", values::clip(h, 60))).collect::<Vec<_>>().join(", ")
        )));
    }
    Ok(mapping)
}

/// `#3`: the third column of the file, for a header the file repeats.
fn by_position(header: &str) -> Option<usize> {
    let digits = header.trim().strip_prefix('#')?;
    digits.parse::<usize>().ok().filter(|&n| n >= 1 && digits.bytes().all(|b| b.is_ascii_digit())).map(|n| n - 1)
}

/// A column that is read by a name (the configuration's or the profile's) the file has more than
/// once (or in names that differ only in case and spaces) would be read from whichever came
/// first: refused, naming the positions, unless the configuration names the column by position
/// (`"#5"`).
fn refuse_repeated_headers(
    columns: &[(&'static str, Source)],
    headers: &[String],
    explicit: &InputMapping,
    what: &str,
    vendor_repeats: bool,
) -> Result<(), MapError> {
    let norm: Vec<String> = headers.iter().map(|h| normalise_header(h)).collect();
    for (canonical, src) in columns {
        let positional = explicit.columns.get(*canonical).and_then(|h| by_position(h)).is_some()
            && !explicit.columns.get(*canonical).is_some_and(|h| headers.iter().any(|x| x.trim() == h.trim()));
        if positional || matches!(src, Source::HasLabel(_)) {
            continue;
        }
        if vendor_repeats && !explicit.columns.contains_key(*canonical) {
            continue;
        }
        for i in src.columns() {
            let Some(name) = norm.get(i) else { continue };
            let same: Vec<usize> = (0..norm.len()).filter(|&k| norm.get(k) == Some(name)).collect();
            if same.len() < 2 {
                continue;
            }
            let header = headers.get(i).map_or("", String::as_str);
            let positions: Vec<String> = same.iter().map(|k| format!("{}", k + 1)).collect();
            return Err(MapError::Config(format!(
                "{canonical} would be read from '{}', the header of columns {} of this file; a repeated header cannot be read by name: \
                 name the column to read by its position in the configuration, e.g. [{what}] columns = {{ {canonical} = \"#{}\" }}",
                values::clip(header, 60),
                positions.join(" and "),
                same.last().map_or(0, |k| k + 1)
            )));
        }
    }
    Ok(())
}

fn aliases_of(spec: &[(&'static str, &'static [&'static str])], canon: &str) -> Vec<&'static str> {
    spec.iter().find(|(c, _)| *c == canon).map(|(_, a)| a.to_vec()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn detects_each_vendor() {
        let sn = h(&["number", "opened_at", "priority", "sys_updated_at"]);
        assert_eq!(detect_ticket_profile(&sn).unwrap().0, Profile::Servicenow);
        let jira = h(&["Summary", "Issue key", "Issue id", "Created", "Resolved", "Labels", "Labels"]);
        assert_eq!(detect_ticket_profile(&jira).unwrap().0, Profile::Jira);
        let zd = h(&["Id", "Created at", "Solved at", "Group stations"]);
        assert_eq!(detect_ticket_profile(&zd).unwrap().0, Profile::Zendesk);
        let canon = h(&[" Ticket_ID ", "OPENED_AT"]);
        assert_eq!(detect_ticket_profile(&canon).unwrap().0, Profile::Canonical);
    }

    #[test]
    fn jira_labels_and_zendesk_stations_are_derived() {
        let jira = h(&["Issue key", "Created", "Labels", "Labels", "Component/s"]);
        let m = map_header(InputKind::Tickets, Profile::Auto, &jira, &InputMapping::default()).unwrap();
        assert_eq!(*m.source("escalated"), Source::HasLabel(vec![2, 3]));
        assert_eq!(*m.source("subcategory"), Source::Column(4));
        let zd = h(&["Id", "Created at", "Group stations"]);
        let m = map_header(InputKind::Tickets, Profile::Auto, &zd, &InputMapping::default()).unwrap();
        assert_eq!(*m.source("reassignment_count"), Source::StationsMinusOne(2));
    }

    #[test]
    fn missing_column_error_lists_what_was_found() {
        let none = InputMapping::default();
        let MapError::Missing(e) =
            map_header(InputKind::Tickets, Profile::Canonical, &h(&["ticket_id", "created"]), &none).unwrap_err()
        else {
            panic!("not a missing column")
        };
        assert!(e.contains("opened_at"), "{e}");
        assert!(e.contains("found 2 columns: 'ticket_id', 'created'"), "{e}");
    }

    #[test]
    fn the_configuration_names_columns_maps_values_and_dates() {
        let headers = h(&["Incident Ref", "Logged On", "Fixed On", "Prio"]);
        let mut explicit = InputMapping::default();
        explicit.columns.insert("ticket_id".into(), "Incident Ref".into());
        explicit.columns.insert("opened_at".into(), "logged on".into());
        explicit.columns.insert("resolved_at".into(), "Fixed On".into());
        explicit.columns.insert("priority".into(), "Prio".into());
        explicit.values.insert("priority".into(), BTreeMap::from([("Critical".into(), "1".into())]));
        explicit.date_format = Some("%d/%m/%Y %H:%M".into());
        let m = map_header(InputKind::Tickets, Profile::Auto, &headers, &explicit).unwrap();
        assert_eq!(*m.source("ticket_id"), Source::Column(0));
        assert!(matches!(m.source("opened_at"), Source::Dated(1, f) if &**f == "%d/%m/%Y %H:%M"), "{m:?}");
        assert!(matches!(m.source("priority"), Source::Mapped(3, map) if map["Critical"] == "1"));
        assert!(m.reason.contains("configuration"));

        explicit.columns.insert("closed_at".into(), "Closed On".into());
        let MapError::Config(e) = map_header(InputKind::Tickets, Profile::Auto, &headers, &explicit).unwrap_err()
        else {
            panic!("a configuration error")
        };
        assert!(e.contains("columns.closed_at = 'Closed On'") && e.contains("'Incident Ref', 'Logged On'"), "{e}");
        // A 100 KB header in the configuration is quoted cut, not whole.
        explicit.columns.insert("closed_at".into(), "y".repeat(100_000));
        let MapError::Config(e) = map_header(InputKind::Tickets, Profile::Auto, &headers, &explicit).unwrap_err()
        else {
            panic!("a configuration error")
        };
        assert!(e.contains("columns.closed_at = 'yyy") && e.len() < 2_000, "{} bytes", e.len());
        explicit.columns.remove("closed_at");
        explicit.columns.insert("openend_at".into(), "Logged On".into());
        let MapError::Config(e) = map_header(InputKind::Tickets, Profile::Auto, &headers, &explicit).unwrap_err()
        else {
            panic!("a configuration error")
        };
        assert!(e.contains("columns.openend_at is not a column of tickets"), "{e}");
    }

    #[test]
    fn glpi_and_otrs_split_paths_and_turn_their_priorities_round() {
        let glpi = h(&["ID", "Status", "Opening date", "Priority", "Category", "Assigned to - Technician", ""]);
        let m = map_header(InputKind::Tickets, Profile::Auto, &glpi, &InputMapping::default()).unwrap();
        assert_eq!(m.profile, Profile::Glpi);
        assert_eq!(*m.source("category"), Source::Part(4, " > ", 0));
        assert_eq!(*m.source("subcategory"), Source::Part(4, " > ", 1));
        assert_eq!(*m.source("assignee"), Source::Part(5, "<br>", 0));
        assert!(matches!(m.source("priority"), Source::Mapped(3, w) if w["Major"] == "1"), "GLPI's Major is its top");
        let otrs = h(&["Number", "Ticket#", "Created", "Close Time", "Priority", "Service", "Queue"]);
        let m = map_header(InputKind::Tickets, Profile::Auto, &otrs, &InputMapping::default()).unwrap();
        assert_eq!(m.profile, Profile::Otrs);
        assert_eq!((m.source("ticket_id"), m.source("resolved_at")), (&Source::Column(1), &Source::Column(3)));
        assert!(
            matches!(m.source("priority"), Source::Mapped(4, w) if w["5 very high"] == "1" && w["1 very low"] == "5")
        );
        assert_eq!(*m.source("subcategory"), Source::Part(5, "::", 1));
    }
}
