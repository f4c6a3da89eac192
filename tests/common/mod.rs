//! Helpers shared by the integration tests: the binary, the fixtures, running a command.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// One CSV record keyed by its column names.
pub type Row = BTreeMap<String, String>;

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_sop-impact")
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(p: &str) -> PathBuf {
    root().join("fixtures").join(p)
}

/// Run the binary in `cwd` with `args` and the environment variables `env`.
pub fn run_in<S: AsRef<OsStr>>(cwd: &Path, args: &[S], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(bin());
    cmd.args(args).current_dir(cwd);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// Run the binary in the project root with `args`.
pub fn run(args: &[&str]) -> Output {
    run_in(&root(), args, &[])
}

/// Run the binary in the project root, assert that it succeeded, and return its stdout.
pub fn run_ok(args: &[&str]) -> String {
    let o = run(args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{args:?} failed: {err}");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Every record of the CSV file at `path`, keyed by its header.
pub fn read_csv(path: &Path) -> Vec<Row> {
    let mut rdr = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let headers = rdr.headers().unwrap().clone();
    rdr.records()
        .map(|r| headers.iter().zip(r.unwrap().iter()).map(|(h, v)| (h.to_string(), v.to_string())).collect())
        .collect()
}

/// The records of `dir/rejects.csv` (without its header).
pub fn rejects(dir: &Path) -> Vec<csv::StringRecord> {
    csv::Reader::from_path(dir.join("rejects.csv")).unwrap().records().map(|r| r.unwrap()).collect()
}

/// (stdout, stderr) as text.
pub fn text(o: &Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

/// Names in `dir`, sorted.
/// Copies the bundled queries into `dir`, where a user's query directory starts from them.
pub fn copy_bundled_queries(dir: &Path) {
    for e in std::fs::read_dir(root().join("queries")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
    }
}

/// A query directory holding the bundled queries and `extra` (file name, SQL): a user's own
/// queries next to the bundled ones.
pub fn queries_with(extra: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_bundled_queries(dir.path());
    for (name, sql) in extra {
        std::fs::write(dir.path().join(name), sql).unwrap();
    }
    dir
}

pub fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

/// `generate` a data set with `generate_args` (after `--out`), then `metrics` over all four of
/// its inputs with `metrics_args`: the data and the output directories.
pub fn generate_and_measure(generate_args: &[&str], metrics_args: &[&str]) -> (tempfile::TempDir, tempfile::TempDir) {
    let data = tempfile::tempdir().unwrap();
    let d = data.path();
    let mut args = vec!["generate", "--quiet", "--out", d.to_str().unwrap()];
    args.extend(generate_args);
    run_ok(&args);
    let out = tempfile::tempdir().unwrap();
    let p = |f: &str| d.join(f).to_str().unwrap().to_string();
    let (t, s, c, a) = (p("tickets.csv"), p("sops.csv"), p("changes.csv"), p("audits.csv"));
    let mut args = vec!["metrics", "--quiet", "--tickets", &t, "--sops", &s, "--changes", &c, "--audits", &a];
    args.extend(metrics_args);
    args.extend(["--out", out.path().to_str().unwrap()]);
    run_ok(&args);
    (data, out)
}
