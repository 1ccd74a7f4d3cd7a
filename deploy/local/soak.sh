#!/usr/bin/env bash
# Soak and chaos run of the whole kube-dns pod on loopback: kubedns (kube source) against the fake
# API server from testkit, the nanny running dnscache on a ConfigMap directory it edits, the sidecar,
# mock upstreams; fixed-rate traffic judged answer by answer against a model of the cluster, while
# Services churn and faults hit (kill -9 of kubedns and dnscache, an API outage ending in 410 Gone,
# a silent upstream, ConfigMap edits with one invalid). Exits non-zero when a bound is broken.
#
#   deploy/local/soak.sh                       # 30 minutes, seed 1, 2000 qps, 50 API writes/s
#   deploy/local/soak.sh --duration 10m --seed 7
#   deploy/local/soak.sh --duration 60s --qps 300 --churn 20 --pool 100
#
# Other flags: --tcp-per-mille N (20), --pool N (300), --out DIR (default target/soak).
# The text report is printed and written to DIR/report.txt with the timeline DIR/report.svg.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
cargo build --release -p kubedns -p dnscache -p nanny -p sidecar -p testkit --bins
bin="${CARGO_TARGET_DIR:-$root/target}/release"
out="${CARGO_TARGET_DIR:-$root/target}/soak"
uptime
exec "$bin/soak" --bin-dir "$bin" --out "$out" "$@"
