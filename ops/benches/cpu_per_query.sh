#!/usr/bin/env bash
# Server CPU per query at a moderate fixed rate (dnsperf -Q, default 20,000 QPS), where most of
# a server's cost is waking up per packet: kubedns against knot, dnscache (cache hits) against
# dnsmasq and unbound, all in the same run, unpinned and pinned (servers and knot on cpu0,
# dnsperf on cpu1), with the shared loopback kit (../shared/bench relative to the repo root).
#
# Usage: ops/benches/cpu_per_query.sh [DUR]     DUR seconds per run (default 10)
# Env:   RATE        fixed rate (default 20000)
#        COALESCE    --udp-coalesce values to try for our servers (default "0s 200us 500us")
#        PHASES      subset of "unpinned pinned" (default both)
#        KUBEDNS_BIN, DNSCACHE_BIN  binaries (default: cargo build --release)
# Rows go to $RESULTS/summary.tsv (the kit's columns); CPU per query in µs = srv_cpu% * 10000 / RATE.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BENCH=${BENCH:-$ROOT/../shared/bench}
. "$BENCH/env.sh"
export DUR=${1:-${DUR:-10}}
export QUIET_MAX=${QUIET_MAX:-30}
RATE=${RATE:-20000}
COALESCE=${COALESCE:-0s 200us 500us}
PHASES=${PHASES:-unpinned pinned}
if [ -z "${KUBEDNS_BIN:-}" ] || [ -z "${DNSCACHE_BIN:-}" ]; then
  (cd "$ROOT" && cargo build --release -q -p kubedns -p dnscache --bins)
  KUBEDNS_BIN=${KUBEDNS_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/kubedns}
  DNSCACHE_BIN=${DNSCACHE_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/dnscache}
fi
# The kubedns benchmark writes the cluster zone as manifests ($WORK/kubedns/cluster.yaml) and
# the query file of its names; no phase runs.
PHASES=" " KUBEDNS_BIN=$KUBEDNS_BIN BENCH_NICE=0 "$ROOT/kubedns/benches/dnsperf.sh" 1 >/dev/null
bench_raise_priority "$@"
cd "$BENCH"
QC=$WORK/queries/cluster.txt
QH=$WORK/queries/hit.txt
KDB_ADDR=127.0.0.5 KDB_PORT=5357 DC_ADDR=127.0.0.1 DC_PORT=5356

stop_all() { ./stop.sh kubedns dnscache knot dnsmasq unbound >/dev/null 2>&1 || true; }
trap stop_all EXIT
stop_all

# ours NAME CPUS COALESCE: starts kubedns or dnscache with pidfile $WORK/NAME.bgpid.
ours() {
  local name=$1 cpus=$2 co=$3 pre=() n=2
  [ -n "$cpus" ] && { pre=(taskset -c "$cpus"); n=1; }
  ./stop.sh "$name" >/dev/null 2>&1 || true
  case $name in
  kubedns) "${pre[@]}" "$KUBEDNS_BIN" --manifests="$WORK/kubedns/cluster.yaml" \
      --dns-bind-address=$KDB_ADDR --dns-port=$KDB_PORT --healthz-port=$((KDB_PORT + 1)) \
      --metrics-port=$((KDB_PORT + 2)) --udp-sockets=$n --udp-coalesce="$co" --lameduck=0 \
      >"$WORK/kubedns.log" 2>&1 & ;;
  dnscache) "${pre[@]}" "$DNSCACHE_BIN" -k --no-resolv --listen-address=$DC_ADDR --port=$DC_PORT \
      --cache-size=10000 --server="/cluster.local/$KD_ADDR#$KD_PORT" --server="$UP_ADDR#$UP_PORT" \
      --udp-workers=$n --udp-coalesce="$co" --lameduck=0 >"$WORK/dnscache.log" 2>&1 & ;;
  esac
  echo $! >"$WORK/$name.bgpid"
  local addr=$KDB_ADDR port=$KDB_PORT
  [ "$name" = dnscache ] && { addr=$DC_ADDR; port=$DC_PORT; }
  for _ in $(seq 100); do
    dig +short -p "$port" @"$addr" svc-1.ns-1.svc.cluster.local A 2>/dev/null | grep -q 10.96 && return
    sleep 0.1
  done
  echo "$name did not answer" >&2
  exit 1
}

run() { # LABEL SERVER ADDR PORT QFILE ENV...
  local label=$1 server=$2 addr=$3 port=$4 qf=$5
  shift 5
  env "$@" RATE="$RATE" T=1 ./run-dnsperf.sh "$label" "$server" "$addr" "$port" "$qf"
}

for phase in $PHASES; do
  case $phase in
  unpinned) cpus="" sfx="" envs=() ; ./start-knot.sh 2 >/dev/null; ./start-dnsmasq.sh >/dev/null; ./start-unbound.sh 2 >/dev/null ;;
  pinned) cpus=0 sfx="-pinned" envs=(PIN=1); ./start-knot.sh 1 0 >/dev/null; ./start-dnsmasq.sh 0 >/dev/null; ./start-unbound.sh 1 0 >/dev/null ;;
  *) echo "unknown phase $phase" >&2; exit 2 ;;
  esac
  run "cpu-knot$sfx" knot "$KD_ADDR" "$KD_PORT" "$QC" "${envs[@]}"
  run "cpu-dnsmasq-hit$sfx" dnsmasq "$DNSMASQ_ADDR" "$DNSMASQ_PORT" "$QH" "${envs[@]}"
  run "cpu-unbound-hit$sfx" unbound "$UNBOUND_ADDR" "$UNBOUND_PORT" "$QH" "${envs[@]}"
  for co in $COALESCE; do
    ours kubedns "$cpus" "$co"
    run "cpu-kubedns-co$co$sfx" kubedns "$KDB_ADDR" "$KDB_PORT" "$QC" "${envs[@]}"
    ours dnscache "$cpus" "$co"
    run "cpu-dnscache-hit-co$co$sfx" dnscache "$DC_ADDR" "$DC_PORT" "$QH" "${envs[@]}"
  done
  stop_all
done
