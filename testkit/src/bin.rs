//! Paths of the workspace binaries for process tests.
//!
//! A test of one crate often needs another crate's binary (the nanny runs `dnscache`, the e2e
//! tests run all four). Cargo only exposes `CARGO_BIN_EXE_*` for the crate's own binaries, so
//! [`path`] finds the binary in the target directory and builds it with `cargo build -p NAME
//! --bin NAME` the first time it is asked for in a process (cargo is a no-op when it is fresh).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

static BUILT: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// The workspace root (the directory holding the top-level Cargo.toml).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("testkit sits in the workspace")
        .to_path_buf()
}

/// The target directory in use (`CARGO_TARGET_DIR`, else `<workspace>/target`).
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) => {
            let d = PathBuf::from(d);
            if d.is_absolute() {
                d
            } else {
                workspace_root().join(d)
            }
        }
        None => workspace_root().join("target"),
    }
}

/// Path of the debug binary `name`, built (once per test process) if needed.
pub fn path(name: &str) -> PathBuf {
    let bin = target_dir().join("debug").join(name);
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if !built.iter().any(|b| b == name) {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(workspace_root())
            .args(["build", "--quiet", "-p", name, "--bin", name])
            .status()
            .unwrap_or_else(|e| panic!("cannot run cargo to build {name}: {e}"));
        assert!(status.success(), "building {name} failed");
        built.push(name.to_string());
    }
    assert!(
        bin.exists(),
        "{} does not exist after building",
        bin.display()
    );
    bin
}
