//! Every directory under fixtures/invalid/ is one class of bad input. Its expected.json says
//! what the real binary must do with it: exit code, the one-line message, what stdout reports
//! and exactly which rows land in rejects.csv (line, column, value, reason).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use common::{bin, fixture};

fn cases() -> Vec<PathBuf> {
    let root = fixture("invalid");
    let mut dirs: Vec<PathBuf> =
        std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    dirs
}

fn read_rejects(path: &Path) -> Vec<Vec<String>> {
    let mut rdr = csv::Reader::from_path(path).unwrap();
    assert_eq!(rdr.headers().unwrap(), vec!["input", "line", "column", "value", "reason"]);
    rdr.records().map(|r| r.unwrap().iter().map(str::to_string).collect()).collect()
}

fn check_case(dir: &Path) -> Result<(), String> {
    let name = dir.file_name().unwrap().to_string_lossy().to_string();
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("expected.json")).map_err(|e| format!("{name}: no expected.json: {e}"))?,
    )
    .map_err(|e| format!("{name}: expected.json: {e}"))?;
    let out = tempfile::tempdir().unwrap();
    let mut args: Vec<String> =
        expected["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_string()).collect();
    args.push("--out".into());
    args.push(out.path().display().to_string());
    let run = Command::new(bin()).args(&args).current_dir(dir).output().unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    let code = run.status.code().ok_or(format!("{name}: killed by a signal (a panic?)"))?;
    let want_code = expected["exit"].as_i64().unwrap() as i32;
    if code != want_code {
        return Err(format!("{name}: exit {code}, expected {want_code}\nstdout: {stdout}\nstderr: {stderr}"));
    }
    if stderr.contains("panicked") || stderr.contains("RUST_BACKTRACE") {
        return Err(format!("{name}: panicked: {stderr}"));
    }
    if let Some(msg) = expected["stderr"].as_str() {
        if !stderr.contains(msg) {
            return Err(format!("{name}: stderr lacks {msg:?}\nstderr: {stderr}"));
        }
        if want_code == 3 && stderr.trim().lines().count() != 1 {
            return Err(format!("{name}: a file-level error must be one line, got:\n{stderr}"));
        }
    }
    for s in expected["stdout"].as_array().into_iter().flatten() {
        let s = s.as_str().unwrap();
        if !stdout.contains(s) {
            return Err(format!("{name}: stdout lacks {s:?}\nstdout: {stdout}"));
        }
    }
    if let Some(want) = expected["rejects"].as_array() {
        let got = read_rejects(&out.path().join("rejects.csv"));
        if got.len() != want.len() {
            return Err(format!("{name}: {} rejects, expected {}: {got:?}", got.len(), want.len()));
        }
        for (g, w) in got.iter().zip(want) {
            let w = w.as_array().unwrap();
            let line = w[0].as_u64().unwrap().to_string();
            let ok = g[0] == "tickets.csv" || g[0] == "sops.csv";
            let ok = ok && g[1] == line;
            let ok = ok && w[1].as_str().is_none_or(|c| g[2] == c);
            let ok = ok && w[2].as_str().is_none_or(|v| g[3] == v);
            let ok = ok && w[3].as_str().is_none_or(|r| g[4].contains(r));
            if !ok {
                return Err(format!("{name}: reject {g:?} does not match {w:?}"));
            }
        }
    }
    Ok(())
}

#[test]
fn every_invalid_fixture_has_the_expected_outcome() {
    let cases = cases();
    assert!(cases.len() >= 13, "the issue lists 13 defect classes; found {}", cases.len());
    let failures: Vec<String> = cases.iter().filter_map(|c| check_case(c).err()).collect();
    assert!(failures.is_empty(), "{} of {} cases failed:\n\n{}", failures.len(), cases.len(), failures.join("\n\n"));
}
