//! Every example answers `--help` with its usage and exit status 0, and refuses an unknown
//! option with a usage error (status 2), as command-line users expect.
//!
//! `cargo test` builds the examples before it runs the tests; they are found next to this test
//! binary (`target/<profile>/examples/`). When only this test was asked for
//! (`cargo test --test examples_help`), it builds them itself.

use std::path::PathBuf;
use std::process::Command;

fn examples_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    // target/<profile>/deps/examples_help-HASH -> target/<profile>/examples
    exe.parent().and_then(|deps| deps.parent()).expect("target/<profile>").join("examples")
}

fn names() -> Vec<String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("examples/")
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let p = e.path();
            if p.extension().is_some_and(|x| x == "rs") {
                p.file_stem().map(|s| s.to_string_lossy().into_owned())
            } else if p.join("main.rs").exists() {
                p.file_name().map(|s| s.to_string_lossy().into_owned())
            } else {
                None
            }
        })
        .collect();
    names.sort();
    names
}

#[test]
fn every_example_answers_help() {
    let names = names();
    assert!(names.len() >= 6, "examples found: {names:?}");
    // Missing, or older than its source (a test run that did not build the examples first).
    let stale = |name: &String| {
        let built = std::fs::metadata(examples_dir().join(name)).and_then(|m| m.modified()).ok();
        let examples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples");
        let file = examples.join(format!("{name}.rs"));
        // A one-file example, or a directory example's newest file.
        let written = match std::fs::metadata(&file).and_then(|m| m.modified()) {
            Ok(t) => Some(t),
            Err(_) => std::fs::read_dir(examples.join(name))
                .ok()
                .and_then(|d| d.filter_map(|e| e.ok()?.metadata().ok()?.modified().ok()).max()),
        };
        match (built, written) {
            (None, _) => true,
            (Some(b), Some(w)) => b < w,
            (Some(_), None) => false,
        }
    };
    if names.iter().any(stale) {
        // Built in the profile this test was built in (target/<profile>/examples).
        let release = examples_dir().parent().is_some_and(|p| p.ends_with("release"));
        let status = Command::new(option_env!("CARGO").unwrap_or("cargo"))
            .args(["build", "--quiet", "--examples"])
            .args(release.then_some("--release"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo build --examples");
        assert!(status.success(), "cargo build --examples failed");
    }
    for name in &names {
        let exe = examples_dir().join(name);
        assert!(exe.exists(), "{} not built", exe.display());
        let out = Command::new(&exe).arg("--help").output().expect("run example");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{name} --help: {stdout}{stderr}");
        assert!(stdout.to_lowercase().contains("usage:"), "{name} --help prints no usage: {stdout}");

        let out = Command::new(&exe).arg("--no-such-option").output().expect("run example");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name} --no-such-option: {stderr}");
    }
}
