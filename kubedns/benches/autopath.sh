#!/usr/bin/env bash
# Autopath, off vs on: 1,000 outside names (name-N.example.test, served by testkit's mock
# upstream) resolved by the glibc resolver (`getent ahosts`, ndots:5, namespace default) from a
# pod's network namespace through dnscache (the nanny's child) and kubedns, as in
# testkit/tests/autopath.rs. Reports, per mode: queries the pod sent to dnscache, queries that
# reached the outside upstream, and the total time. Needs root (unshare, ip) and dig.
#
# Usage: kubedns/benches/autopath.sh [NAMES]     NAMES outside names (default 1000)
# Env:   PROFILE  debug or release binaries (default release; built if needed)
#        CARGO_TARGET_DIR as for cargo
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
NAMES=${1:-1000}
PROFILE=${PROFILE:-release}
flag=""
[ "$PROFILE" = release ] && flag="--release"
# shellcheck disable=SC2086
(cd "$ROOT" && cargo build -q $flag -p kubedns -p dnscache -p nanny -p testkit --bins)
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/$PROFILE
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
for i in $(seq 1 "$NAMES"); do echo "name-$i.example.test"; done > "$TMP/names"
echo "# $(date -u +%FT%TZ) $(uptime)"
echo "# $NAMES outside names, getent ahosts, ndots:5, $PROFILE binaries"
printf '%-9s %8s %15s %17s %9s %12s\n' autopath names client_queries upstream_queries seconds ms_per_name
for mode in off on; do
  mkdir -p "$TMP/$mode"
  line=$(KUBEDNS="$BIN/kubedns" NANNY="$BIN/nanny" DNSCACHE="$BIN/dnscache" MOCK="$BIN/mock-upstream" \
    MANIFESTS="$ROOT/deploy/examples" WORK="$TMP/$mode" AUTOPATH=$mode QUERIES="" \
    NAMES_FILE="$TMP/names" MOCK_SECONDS=900 \
    unshare --net --mount -- "$ROOT/testkit/tests/glibc/autopath-in-netns.sh" | grep '^BENCH')
  eval "$(echo "$line" | sed 's/^BENCH //')"
  # shellcheck disable=SC2154
  printf '%-9s %8s %15s %17s %9s %12s\n' "$mode" "$names" "$client" "$upstream" "$seconds" \
    "$(awk -v s="$seconds" -v n="$names" 'BEGIN { printf "%.2f", 1000 * s / n }')"
done
