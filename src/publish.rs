//! Publishing a report directory at `--out`: everything is written to a staging directory first
//! and swapped in when it is complete. What is at `--out` is replaced only when every file in it
//! was written by a report (listed in its `manifest.json`, or a file this run writes too): the
//! tool never removes a file it did not write, and refuses anything else — a file, a device, a
//! symbolic link, a directory holding other files — with exit 4.
//!
//! Two ways to stage:
//! - beside the target (`.NAME.tmp-PID` in its parent), swapped in by two renames, so that a
//!   reader sees the old report or the new one, never half of one;
//! - inside it (`NAME/.sop-impact-stage`) when the parent cannot be written or the target is the
//!   working directory (`--out .`): the entries are moved one by one.
//!
//! A run holds a lock on the directory it stages in from staging to publishing, so whatever it
//! finds left there is an interrupted run's: before staging, it puts back the previous report
//! (a run killed after moving it aside) or finishes moving a complete one in, and removes stale
//! staging directories.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Names the tool uses inside a target when it stages there.
const STAGE_INSIDE: &str = ".sop-impact-stage";
const OLD_INSIDE: &str = ".sop-impact-old";
/// Present while the staged entries are being moved in: the new report is complete.
const MOVING_IN: &str = ".sop-impact-moving-in";
/// The lock file where a directory cannot be locked itself (not Unix).
#[cfg(not(unix))]
const LOCK_FILE: &str = ".sop-impact.lock";

/// Environment variable naming a fault point at which the process exits as if killed: the
/// tests use it to stop a publication at each step, deterministically.
pub const FAULT_ENV: &str = "SOP_IMPACT_FAULT";

/// A report directory being written; [`Publication::commit`] puts it in place, dropping it
/// without committing removes what was staged.
pub struct Publication {
    target: PathBuf,
    place: Place,
    stage: PathBuf,
    replace: Replace,
    /// the parent's lock, then the target's
    _locks: Vec<File>,
    /// set once the swap begins: from then on a failure is left for the next run to recover
    swapping: bool,
}

enum Place {
    /// staged in the parent; the target is moved aside to `old` while the stage moves in
    Beside { old: PathBuf },
    /// staged inside the target
    Inside,
}

impl Publication {
    /// Check that `target` may become a report directory, recover what an interrupted run left,
    /// and create the staging directory.
    pub fn begin(target: &Path, replace: Replace) -> Result<Publication> {
        let target = resolve_target(target)?;
        let exists = target.is_dir();
        if exists {
            check_replaceable(&target, replace)?;
        }
        let parent = target.parent().map(Path::to_path_buf);
        // The parent, then the target: the same order whichever way a run stages, so that two
        // runs on one target (`--out r` and `--out .` inside r) never overlap.
        let mut locks = Vec::new();
        if let Some(parent) = &parent {
            locks.push(lock_dir(parent)?);
        }
        if exists {
            locks.push(lock_dir(&target)?);
        }
        let cwd = std::env::current_dir().and_then(fs::canonicalize).ok();
        let holds_cwd = exists && cwd.is_some_and(|c| c.starts_with(&target));
        // A mount point (a bind mount, another disk) cannot be renamed: stage inside it.
        let mounted = exists && parent.as_deref().is_some_and(|p| !same_device(p, &target));
        if let (Some(parent), false, false) = (&parent, holds_cwd, mounted) {
            let name = file_name(&target);
            recover_beside(parent, &name, &target)?;
            let stage = parent.join(format!(".{name}.tmp-{}", std::process::id()));
            match fs::create_dir(&stage) {
                Ok(()) => {
                    let old = parent.join(format!(".{name}.old-{}", std::process::id()));
                    let place = Place::Beside { old };
                    return Ok(Publication { target, place, stage, replace, _locks: locks, swapping: false });
                }
                // A parent we may not write: stage inside the target when it is there.
                Err(e) if !exists || !is_permission(&e) => return Err(Error::output(&stage, e)),
                Err(_) => {}
            }
        }
        recover_inside(&target)?;
        let stage = target.join(STAGE_INSIDE);
        fs::create_dir(&stage).map_err(|e| Error::output(&stage, e))?;
        Ok(Publication { target, place: Place::Inside, stage, replace, _locks: locks, swapping: false })
    }

    /// The directory to write the report into.
    pub fn stage(&self) -> &Path {
        &self.stage
    }

    /// An error about a file of the stage, said about the same file under the target: the user
    /// reads `r/charts/x.png` (the path they asked for), not the staging copy
    /// `.r.tmp-PID/charts/x.png`, which is gone by the time they read the message.
    pub fn at_target(&self, e: Error) -> Error {
        let moved = |path: PathBuf| -> PathBuf {
            let rel = path.strip_prefix(&self.stage).ok().map(Path::to_path_buf);
            rel.map_or(path, |rel| self.target.join(rel))
        };
        match e {
            Error::Output { path, source } => Error::Output { path: moved(path), source },
            Error::OutputRefused { path, problem, fix } => Error::OutputRefused { path: moved(path), problem, fix },
            other => other,
        }
    }

    /// Put the staged report in place of what is at the target, if that is still a report.
    pub fn commit(mut self) -> Result<()> {
        check_replaceable(&self.target, self.replace)?;
        self.swapping = true;
        match &self.place {
            Place::Beside { old } => swap_beside(&self.stage, &self.target, old),
            Place::Inside => swap_inside(&self.stage, &self.target),
        }
    }
}

impl Drop for Publication {
    fn drop(&mut self) {
        if !self.swapping {
            let _ = fs::remove_dir_all(&self.stage);
        }
    }
}

#[cfg(unix)]
fn same_device(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (fs::metadata(a), fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev(),
        _ => true,
    }
}

#[cfg(not(unix))]
fn same_device(_: &Path, _: &Path) -> bool {
    true
}

/// Before a long analysis: refuse at once a target that can never become a report directory (a
/// file, a device, a link) or that holds files no report wrote. Nothing is created.
pub fn precheck(target: &Path, replace: Replace) -> Result<()> {
    match fs::symlink_metadata(target) {
        Ok(m) if !m.is_dir() => resolve_target(target).map(|_| ()),
        Ok(_) => check_replaceable(target, replace),
        Err(_) => Ok(()),
    }
}

/// The target as an absolute path, refused when it exists and is not a directory.
fn resolve_target(target: &Path) -> Result<PathBuf> {
    match fs::symlink_metadata(target) {
        Ok(m) if m.file_type().is_symlink() => {
            Err(refused(target, "is a symbolic link", "pass the directory it points to, or a new path, as --out"))
        }
        Ok(m) if !m.is_dir() => Err(refused(
            target,
            "exists and is not a directory (a report is a directory and would replace it)",
            "choose a new path for --out, or remove it yourself",
        )),
        Ok(_) => fs::canonicalize(target).map_err(|e| Error::output(target, e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let name = target.file_name().ok_or_else(|| refused(target, "names no directory", "name a directory"))?;
            let parent = target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
            fs::create_dir_all(parent).map_err(|e| Error::output(parent, e))?;
            let parent = fs::canonicalize(parent).map_err(|e| Error::output(parent, e))?;
            Ok(parent.join(name))
        }
        Err(e) => Err(Error::output(target, e)),
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

fn refused(path: &Path, problem: &str, fix: &str) -> Error {
    Error::OutputRefused { path: path.to_path_buf(), problem: problem.into(), fix: fix.into() }
}

fn is_permission(e: &std::io::Error) -> bool {
    matches!(e.kind(), std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem)
}

/// An exclusive lock on `dir`, held until the file is dropped; waits for another run.
fn lock_dir(dir: &Path) -> Result<File> {
    #[cfg(unix)]
    let file = File::open(dir).map_err(|e| Error::output(dir, e))?;
    #[cfg(not(unix))]
    let file = {
        let path = dir.join(LOCK_FILE);
        fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::output(&path, e))?
    };
    file.lock().map_err(|e| Error::output(dir, e))?;
    Ok(file)
}

/// Exit as if killed when the fault point `name` is chosen (tests only).
fn fault_point(name: &str) {
    if std::env::var_os(FAULT_ENV).is_some_and(|v| v == name) {
        std::process::exit(86);
    }
}

/// Under the parent's lock, what an interrupted run left beside `target` is stale: put back a
/// report it had moved aside, remove its staging. Only names the tool makes (`.NAME.old-PID`,
/// `.NAME.tmp-PID`, directories) are touched, and only an empty directory or a report is put back.
fn recover_beside(parent: &Path, name: &str, target: &Path) -> Result<()> {
    let (old_prefix, tmp_prefix) = (format!(".{name}.old-"), format!(".{name}.tmp-"));
    let Ok(entries) = fs::read_dir(parent) else { return Ok(()) };
    let mut names: Vec<String> = entries.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    let pid_suffix = |n: &str, prefix: &str| n.strip_prefix(prefix).is_some_and(|p| p.parse::<u32>().is_ok());
    for n in names {
        let path = parent.join(&n);
        if !fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
            continue;
        }
        if pid_suffix(&n, &old_prefix) && is_report_or_empty(&path) {
            if target.exists() {
                fs::remove_dir_all(&path).map_err(|e| Error::output(&path, e))?;
            } else {
                fs::rename(&path, target).map_err(|e| Error::output(target, e))?;
            }
        } else if pid_suffix(&n, &tmp_prefix) {
            fs::remove_dir_all(&path).map_err(|e| Error::output(&path, e))?;
        }
    }
    Ok(())
}

fn is_report_or_empty(dir: &Path) -> bool {
    fs::read_dir(dir).is_ok_and(|mut e| e.next().is_none()) || manifest_outputs(&dir.join("manifest.json")).present
}

/// Under the target's lock: finish moving a complete report in, or move the previous one back.
fn recover_inside(target: &Path) -> Result<()> {
    let (stage, old, moving_in) = (target.join(STAGE_INSIDE), target.join(OLD_INSIDE), target.join(MOVING_IN));
    if moving_in.exists() {
        if stage.is_dir() {
            move_entries(&stage, target)?;
        }
        remove(&old)?;
    } else if old.is_dir() {
        move_entries(&old, target)?;
    }
    remove(&old)?;
    remove(&moving_in)?;
    remove(&stage)
}

fn remove(path: &Path) -> Result<()> {
    let result = match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(_) => return Ok(()),
    };
    result.map_err(|e| Error::output(path, e))
}

/// Move every entry of `from` into `to` (entries already there are kept: the move was begun).
fn move_entries(from: &Path, to: &Path) -> Result<()> {
    for name in visible_entries(from)? {
        let dest = to.join(&name);
        if fs::symlink_metadata(&dest).is_err() {
            fs::rename(from.join(&name), &dest).map_err(|e| Error::output(&dest, e))?;
        }
    }
    Ok(())
}

/// Entries of `dir` other than the tool's own staging names, sorted.
fn visible_entries(dir: &Path) -> Result<Vec<std::ffi::OsString>> {
    let mut names: Vec<_> = fs::read_dir(dir)
        .map_err(|e| Error::output(dir, e))?
        .flatten()
        .map(|e| e.file_name())
        .filter(|n| !is_own_name(&n.to_string_lossy()))
        .collect();
    names.sort();
    Ok(names)
}

fn is_own_name(name: &str) -> bool {
    #[cfg(not(unix))]
    if name == LOCK_FILE {
        return true;
    }
    matches!(name, STAGE_INSIDE | OLD_INSIDE | MOVING_IN)
}

/// Refuse to replace a target that holds a file no report wrote: every file must be listed in
/// its manifest.json (with the checksum it had when it was written: a report.md annotated since
/// is the user's now) or carry the name of one of the tool's outputs where there is no manifest.
/// An input of the run is never replaced, even with [`Replace::Changed`].
fn check_replaceable(target: &Path, replace: Replace) -> Result<()> {
    if !target.is_dir() {
        return Ok(());
    }
    let listed = manifest_outputs(&target.join("manifest.json"));
    if let Some(f) = first_unknown(target, "", &listed, replace)? {
        let (problem, fix) = match f.why {
            Why::Input => (
                format!("holds '{}', an input of this run; the report would replace it", f.rel),
                "choose another --out, or move the input out of it",
            ),
            Why::Changed => (
                format!(
                    "holds '{}', which changed since the report listed it in its manifest (its SHA-256 differs); \
                     a report replaces only its own files as it wrote them",
                    f.rel
                ),
                "choose another --out, move that file away, or pass --force to replace it",
            ),
            Why::Foreign => (
                format!(
                    "holds '{}', which no report wrote; a report replaces only a directory of its own files",
                    f.rel
                ),
                "choose another --out (a new or empty directory, or an earlier report), or move that file away",
            ),
        };
        return Err(refused(target, &problem, fix));
    }
    Ok(())
}

/// What replacing a report directory may do to its files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replace {
    /// only the files an earlier report wrote, as it wrote them
    OwnFiles,
    /// also files of an earlier report changed since (`--force`)
    Changed,
}

/// A file a report may not replace, and why.
struct Unknown {
    rel: String,
    why: Why,
}

enum Why {
    Input,
    Changed,
    Foreign,
}

/// Whether `rel` is a name the tool writes: a report's, the metrics command's, an evidence pack's.
fn is_tool_output(rel: &str) -> bool {
    let (dir, file) = rel.rsplit_once('/').unwrap_or(("", rel));
    let ext = file.rsplit_once('.').map_or("", |(_, e)| e);
    let stem = file.rsplit_once('.').map_or(file, |(s, _)| s);
    match dir {
        "" => {
            matches!(
                file,
                "report.md"
                    | "manifest.json"
                    | "comparisons.csv"
                    | "windows.csv"
                    | "rejects.csv"
                    | "backlog.csv"
                    | "review_calendar.csv"
                    | "evidence.md"
                    | "comparison.csv"
                    | "before.csv"
                    | "after.csv"
            ) || (file.starts_with("comparisons_by_") && ext == "csv")
        }
        "metrics" => {
            // the extensions of tables::extension, for every --format
            matches!(stem, "sop_version_metrics" | "process_period_metrics")
                && matches!(ext, "csv" | "parquet" | "arrow" | "json")
        }
        "charts" => matches!(ext, "svg" | "png"),
        "queries" => ext == "sql",
        _ => false,
    }
}

/// The first file or directory under `dir` (relative, `/`-separated) that is neither listed nor
/// a tool output, or listed with another checksum, or an input of the run; directories other
/// than charts/, metrics/ and queries/ count, even empty ones.
fn first_unknown(dir: &Path, prefix: &str, listed: &Listed, replace: Replace) -> Result<Option<Unknown>> {
    for name in visible_entries(dir)? {
        let path = dir.join(&name);
        let rel = format!("{prefix}{}", name.to_string_lossy());
        let meta = fs::symlink_metadata(&path).map_err(|e| Error::output(&path, e))?;
        if meta.is_dir() {
            if !(prefix.is_empty() && matches!(rel.as_str(), "charts" | "metrics" | "queries")) {
                return Ok(Some(Unknown { rel: format!("{rel}/"), why: Why::Foreign }));
            }
            if let Some(found) = first_unknown(&path, &format!("{rel}/"), listed, replace)? {
                return Ok(Some(found));
            }
            continue;
        }
        if crate::output::is_input(&path) {
            return Ok(Some(Unknown { rel, why: Why::Input }));
        }
        let why = match (listed.files.get(&rel), listed.present) {
            // the manifest itself, or a file listed without a checksum
            (Some(None), _) => continue,
            (Some(Some(sha)), _) => {
                if replace == Replace::Changed || meta.file_type().is_symlink() {
                    continue;
                }
                if crate::output::sha256_file(&path).ok().as_deref() == Some(sha.as_str()) {
                    continue;
                }
                Why::Changed
            }
            // a directory of the metrics command (no manifest) holds the tool's names
            (None, false) if is_tool_output(&rel) => continue,
            (None, true) if is_tool_output(&rel) && replace == Replace::Changed => continue,
            _ => Why::Foreign,
        };
        return Ok(Some(Unknown { rel, why }));
    }
    Ok(None)
}

/// The files an earlier report's manifest lists, with their checksums.
struct Listed {
    /// whether there is a manifest of the tool's
    present: bool,
    files: std::collections::BTreeMap<String, Option<String>>,
}

fn manifest_outputs(manifest: &Path) -> Listed {
    let none = Listed { present: false, files: Default::default() };
    let Ok(bytes) = fs::read(manifest) else { return none };
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(&bytes) else { return none };
    if json["tool"] != "sop-impact" {
        return none;
    }
    let mut files: std::collections::BTreeMap<String, Option<String>> = json["outputs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| Some((o["path"].as_str()?.to_string(), o["sha256"].as_str().map(str::to_string))))
        .collect();
    files.insert("manifest.json".into(), None);
    Listed { present: true, files }
}

fn swap_beside(stage: &Path, target: &Path, old: &Path) -> Result<()> {
    let had_old = target.exists();
    if had_old {
        fs::rename(target, old).map_err(|e| Error::output(target, e))?;
        fault_point("publish-target-moved-aside");
    }
    if let Err(e) = fs::rename(stage, target) {
        if had_old {
            let _ = fs::rename(old, target);
        }
        return Err(Error::output(target, e));
    }
    if had_old {
        fault_point("publish-new-report-in-place");
        // The new report is in place: an old copy that cannot be removed now is removed by the
        // next run, and is no reason to fail this one.
        if let Err(e) = fs::remove_dir_all(old) {
            eprintln!("sop-impact: warning: {}: cannot remove the previous report yet: {e}", old.display());
        }
    }
    Ok(())
}

fn swap_inside(stage: &Path, target: &Path) -> Result<()> {
    let (old, moving_in) = (target.join(OLD_INSIDE), target.join(MOVING_IN));
    fs::create_dir(&old).map_err(|e| Error::output(&old, e))?;
    // Out: a failure puts back what was moved and drops the new report.
    let moved_out = visible_entries(target).and_then(|names| {
        for name in names {
            let from = target.join(&name);
            fs::rename(&from, old.join(&name)).map_err(|e| Error::output(&from, e))?;
            fault_point("publish-inside-moving-out");
        }
        Ok(())
    });
    if let Err(e) = moved_out {
        let _ = move_entries(&old, target);
        let _ = remove(&old);
        let _ = remove(stage);
        return Err(e);
    }
    // In: from here the new report is complete; a failure is finished by the next run.
    fs::write(&moving_in, b"").map_err(|e| Error::output(&moving_in, e))?;
    for name in visible_entries(stage)? {
        let dest = target.join(&name);
        fs::rename(stage.join(&name), &dest).map_err(|e| Error::output(&dest, e))?;
        fault_point("publish-inside-moving-in");
    }
    remove(&old)?;
    fault_point("publish-inside-old-removed");
    remove(&moving_in)?;
    remove(stage)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    fn publish(target: &Path, files: &[(&str, &str)]) -> Result<()> {
        let p = Publication::begin(target, Replace::OwnFiles)?;
        for (name, text) in files {
            write(&p.stage().join(name), text);
        }
        p.commit()
    }

    #[test]
    fn an_error_in_the_stage_names_the_file_under_the_target() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("r");
        let p = Publication::begin(&target, Replace::OwnFiles).unwrap();
        let staged = p.stage().join("charts/x.png");
        let e = p.at_target(Error::output(&staged, std::io::Error::other("No space left on device")));
        let target = fs::canonicalize(dir.path()).unwrap().join("r");
        assert!(matches!(&e, Error::Output { path, .. } if *path == target.join("charts/x.png")), "{e}");
        assert!(!e.to_string().contains(".tmp-"), "{e}");
        // a path outside the stage is left as it is
        let other = dir.path().join("elsewhere.csv");
        let e = p.at_target(Error::output(&other, std::io::Error::other("x")));
        assert!(matches!(&e, Error::Output { path, .. } if *path == other), "{e}");
    }

    #[test]
    fn a_new_target_is_created_and_an_empty_one_filled() {
        let dir = tempfile::tempdir().unwrap();
        publish(&dir.path().join("a/b"), &[("report.md", "x")]).unwrap();
        assert_eq!(fs::read_to_string(dir.path().join("a/b/report.md")).unwrap(), "x");
        let empty = tempfile::tempdir().unwrap();
        publish(empty.path(), &[("report.md", "y")]).unwrap();
        assert_eq!(fs::read_to_string(empty.path().join("report.md")).unwrap(), "y");
    }

    #[test]
    fn a_directory_with_other_files_is_refused_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        write(&dir.path().join("data/tickets.csv"), "keep me");
        let e = publish(&dir.path().join("data"), &[("report.md", "x")]).unwrap_err();
        assert_eq!(e.exit_code(), crate::error::exit::OUTPUT);
        assert!(e.to_string().contains("tickets.csv"), "{e}");
        assert_eq!(fs::read_to_string(dir.path().join("data/tickets.csv")).unwrap(), "keep me");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1, "no staging left behind");
    }

    #[test]
    fn an_earlier_report_listed_in_its_manifest_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path().join("r");
        let manifest = r#"{"tool": "sop-impact", "outputs": [{"path": "charts/old.svg"}]}"#;
        publish(&t, &[("charts/old.svg", "o"), ("manifest.json", manifest)]).unwrap();
        publish(&t, &[("report.md", "new")]).unwrap();
        assert!(!t.join("charts/old.svg").exists());
        assert_eq!(fs::read_to_string(t.join("report.md")).unwrap(), "new");
    }

    #[test]
    fn files_and_links_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("file");
        write(&f, "keep");
        assert_eq!(publish(&f, &[]).unwrap_err().exit_code(), crate::error::exit::OUTPUT);
        assert_eq!(fs::read_to_string(&f).unwrap(), "keep");
        #[cfg(unix)]
        {
            let link = dir.path().join("link");
            std::os::unix::fs::symlink(dir.path(), &link).unwrap();
            assert_eq!(publish(&link, &[]).unwrap_err().exit_code(), crate::error::exit::OUTPUT);
            assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        }
    }

    #[test]
    fn a_report_moved_aside_by_a_killed_run_is_put_back() {
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path().join("r");
        let manifest = r#"{"tool": "sop-impact", "outputs": [{"path": "report.md"}]}"#;
        publish(&t, &[("report.md", "old"), ("manifest.json", manifest)]).unwrap();
        // what a run killed between the two renames leaves
        fs::rename(&t, dir.path().join(".r.old-999999")).unwrap();
        fs::create_dir(dir.path().join(".r.tmp-999999")).unwrap();
        let p = Publication::begin(&t, Replace::OwnFiles).unwrap();
        assert_eq!(fs::read_to_string(t.join("report.md")).unwrap(), "old", "restored before staging");
        drop(p);
        let left: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, vec![std::ffi::OsString::from("r")]);
    }

    #[test]
    fn look_alike_directories_beside_the_target_are_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path().join("r");
        for name in [".r.old-2024", ".r.tmp-notes", ".r.old-123"] {
            write(&dir.path().join(name).join("mine.txt"), "keep");
        }
        publish(&t, &[("report.md", "x")]).unwrap();
        for name in [".r.old-2024", ".r.tmp-notes", ".r.old-123"] {
            assert_eq!(fs::read_to_string(dir.path().join(name).join("mine.txt")).unwrap(), "keep", "{name}");
        }
    }

    #[test]
    fn tool_output_names_are_known_and_others_are_not() {
        for known in [
            "report.md",
            "metrics/sop_version_metrics.parquet",
            "charts/trend-x.svg",
            "comparisons_by_priority.csv",
            "queries/mttr.sql",
        ] {
            assert!(is_tool_output(known), "{known}");
        }
        for unknown in ["tickets.csv", "metrics/mine.csv", "charts/notes.txt", "data/report.md"] {
            assert!(!is_tool_output(unknown), "{unknown}");
        }
    }

    #[test]
    fn an_inside_swap_is_finished_or_undone() {
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path();
        // killed while moving the old report out: it is moved back
        write(&t.join(".sop-impact-old/report.md"), "old");
        write(&t.join(".sop-impact-stage/report.md"), "new");
        recover_inside(t).unwrap();
        assert_eq!(fs::read_to_string(t.join("report.md")).unwrap(), "old");
        assert!(!t.join(".sop-impact-stage").exists());
        // killed while moving the new one in: the move is finished
        fs::remove_file(t.join("report.md")).unwrap();
        write(&t.join(".sop-impact-old/report.md"), "old");
        write(&t.join(".sop-impact-stage/report.md"), "new");
        write(&t.join(".sop-impact-stage/charts/a.svg"), "svg");
        write(&t.join(MOVING_IN), "");
        recover_inside(t).unwrap();
        assert_eq!(fs::read_to_string(t.join("report.md")).unwrap(), "new");
        assert!(t.join("charts/a.svg").exists());
        assert_eq!(fs::read_dir(t).unwrap().count(), 2, "only the report's entries remain");
    }
}
