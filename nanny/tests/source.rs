//! The ConfigMap directory as the kubelet writes it: keys are symlinks into
//! `..data`, dot entries are not keys, the version is kube-dns's SHA-256, a missing directory
//! is the default config, and a `..data` swap is noticed by notification alone.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use nanny::source::DirSource;
use testkit::pod::write_configmap;
use tokio_util::sync::CancellationToken;

const STUBS: &str = r#"{"a.local":["1.2.3.4"]}"#;
const UPS: &str = r#"["8.8.8.8"]"#;

#[test]
fn reads_kubelet_layout_with_kube_dns_version() {
    let dir = tempfile::tempdir().unwrap();
    write_configmap(
        dir.path(),
        &[("stubDomains", STUBS), ("upstreamNameservers", UPS)],
    );
    std::fs::create_dir(dir.path().join("subdir")).unwrap();
    std::fs::write(dir.path().join(".hidden"), "x").unwrap();
    let snap = DirSource::new(dir.path()).read().unwrap();
    assert_eq!(snap.data.len(), 2, "{:?}", snap.data);
    assert_eq!(snap.data["stubDomains"], STUBS);
    // printf 'stubDomains\0...\0upstreamNameservers\0...\0' | sha256sum
    assert_eq!(
        snap.version,
        "cd59bc966f0e8a6ca0004dbfcc61c39c75c9241ae4daf3473a68f6438a9e04cb"
    );
    // The same content written again is the same version; a change is a new one.
    write_configmap(
        dir.path(),
        &[("stubDomains", STUBS), ("upstreamNameservers", UPS)],
    );
    assert_eq!(
        DirSource::new(dir.path()).read().unwrap().version,
        snap.version
    );
    write_configmap(dir.path(), &[("stubDomains", STUBS)]);
    let after = DirSource::new(dir.path()).read().unwrap();
    assert_eq!(after.data.len(), 1);
    assert_ne!(after.version, snap.version);
}

#[test]
fn missing_or_empty_directory_is_the_default() {
    let dir = tempfile::tempdir().unwrap();
    let missing = DirSource::new(dir.path().join("nope")).read().unwrap();
    assert_eq!(missing.version, "");
    assert!(missing.data.is_empty());
    write_configmap(dir.path(), &[]);
    let empty = DirSource::new(dir.path()).read().unwrap();
    assert_eq!(empty.version, "");
    assert!(empty.data.is_empty());
}

#[test]
fn non_utf8_key_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("stubDomains"), [0xff, 0xfe]).unwrap();
    assert!(DirSource::new(dir.path()).read().is_err());
}

#[tokio::test]
async fn swap_is_noticed_by_notification_without_polling() {
    let dir = tempfile::tempdir().unwrap();
    write_configmap(dir.path(), &[("upstreamNameservers", UPS)]);
    let token = CancellationToken::new();
    // An hour between polls: only inotify can deliver the change in time.
    let mut rx = DirSource::new(dir.path()).watch(Duration::from_secs(3600), token.clone());
    let first = rx.recv().await.unwrap();
    assert_eq!(first.data.len(), 1);
    write_configmap(
        dir.path(),
        &[("upstreamNameservers", UPS), ("stubDomains", STUBS)],
    );
    let deadline = Duration::from_secs(10);
    let changed = tokio::time::timeout(deadline, async {
        loop {
            let s = rx.recv().await.unwrap();
            if s.data.len() == 2 {
                return s;
            }
        }
    })
    .await
    .expect("swap noticed");
    assert_eq!(changed.data["stubDomains"], STUBS);
    token.cancel();
}

#[tokio::test]
async fn directory_created_later_is_picked_up_by_polling() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("late");
    let token = CancellationToken::new();
    let mut rx = DirSource::new(&cfg).watch(Duration::from_millis(50), token.clone());
    assert_eq!(rx.recv().await.unwrap().version, "");
    write_configmap(&cfg, &[("stubDomains", STUBS)]);
    let s = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("new directory noticed")
        .unwrap();
    assert_eq!(s.data["stubDomains"], STUBS);
    token.cancel();
}
