#!/usr/bin/env bash
# Reload benchmark for the nanny (queries lost per ConfigMap change): >= 2,000 QPS of UDP queries through
# dnscache while the ConfigMap changes 20 times, with the socket hand-over and with
# --handover=false (kill and respawn, as dnsmasq-nanny did). Prints one line per mode:
# queries sent/ok/failed/lost and the time from the `..data` swap to the new route answering.
# Modes warm and cold: queries the default upstream gets in the 5 s after a change that adds a
# stub domain, with the warm cache hand-over and with --cache-handover=false.
#
# Usage: nanny/benches/reload.sh            (full: QPS=2000 CHANGES=20 GAP_MS=500)
#        QPS=500 CHANGES=3 nanny/benches/reload.sh   (smoke run)
# Env: QPS, CHANGES, GAP_MS, MODES (handover,kill,warm,cold), LOG (nanny logs, default /tmp/nanny-reload.log)
# Loopback only; bounded (about CHANGES * (GAP_MS + swap time) + 3 s per mode).
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
LOG=${LOG:-/tmp/nanny-reload.log}
cargo build --release -q -p nanny --bin nanny
cargo build --release -q -p dnscache --bin dnscache
export NANNY_BIN=$CARGO_TARGET_DIR/release/nanny DNSCACHE_BIN=$CARGO_TARGET_DIR/release/dnscache
cargo bench -q -p nanny --bench reload 2>"$LOG"
echo "(nanny and dnscache logs: $LOG)"
