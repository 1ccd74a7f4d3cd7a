//! Paths of the workspace binaries for process tests.
//!
//! A test of one crate often needs another crate's binary (the nanny runs `dnscache`, the e2e
//! tests run all four). Cargo only exposes `CARGO_BIN_EXE_*` for the crate's own binaries, so
//! [`path`] finds the binary in the target directory, after asking cargo once per test process
//! to bring the workspace binaries up to date (a no-op when they are fresh).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

static BUILT: Mutex<bool> = Mutex::new(false);

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
///
/// Builds every workspace binary with the same feature resolution as `cargo test --workspace`
/// (`--workspace --bins --tests`), so after that command it is a no-op instead of rebuilding
/// kube and rustls with another feature set. `CARGO_MANIFEST_DIR` and friends of the calling
/// test are removed: they would make cargo consider the build environment changed.
pub fn path(name: &str) -> PathBuf {
    let bin = target_dir().join("debug").join(name);
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if !*built {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.current_dir(workspace_root()).args([
            "build",
            "--quiet",
            "--workspace",
            "--bins",
            "--tests",
        ]);
        for (k, _) in std::env::vars_os() {
            let k = k.to_string_lossy();
            if k.starts_with("CARGO_") && k != "CARGO_TARGET_DIR" && k != "CARGO_HOME" {
                cmd.env_remove(k.as_ref());
            }
        }
        let status = cmd
            .status()
            .unwrap_or_else(|e| panic!("cannot run cargo to build {name}: {e}"));
        assert!(status.success(), "building the workspace binaries failed");
        *built = true;
    }
    assert!(
        bin.exists(),
        "{} does not exist after building",
        bin.display()
    );
    bin
}
