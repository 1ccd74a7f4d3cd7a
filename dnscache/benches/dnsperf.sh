#!/usr/bin/env bash
# dnscache against its peers (dnsmasq, unbound) with the shared loopback kit (../shared/bench from the repo root):
# knotd is the upstream (example.test) and the kubedns stand-in (cluster.local), dnsperf the client.
#
# Usage: dnscache/benches/dnsperf.sh [DUR]        DUR seconds per run (default 20; 3 for a smoke run)
# Env:   BENCH        kit directory (default ../shared/bench from the repo root)
#        WORK         kit work dir (default /tmp/dnsbench; queries, pidfiles, results)
#        DNSCACHE_BIN binary to test (default: cargo build --release, $CARGO_TARGET_DIR or target/)
#        DC_PORT      dnscache port on 127.0.0.1 (default 5356)
#        PHASES       subset of "unpinned pinned sweep rss" (default: all)
#
# Phases (rows go to $RESULTS/summary.tsv, same columns as the kit; RSS to $RESULTS/dnscache-rss.tsv):
#   unpinned  knot 2 workers, dnsmasq, unbound 2 threads, dnscache (one UDP worker per CPU);
#             hit.txt and mixed.txt at full speed (dnsperf -T 1 -c 50 -q 100), and hit.txt at a
#             fixed 20k QPS (-Q 20000): server CPU per query in µs = srv_cpu% / 2
#             (unbound's 4.5 µs is 9 %).
#   pinned    every server and knot on cpu0 (1 thread/worker each), dnsperf on cpu1 (PIN=1).
#   sweep     dnscache mixed.txt at --cache-size 1000 / 10000 / 100000: per-insert cost must not
#             grow with the cache size (dnsmasq drops from 41k to 7.5k QPS over that range).
#   rss       each server with room for 100,000 entries, filled by one pass over mixed.txt
#             (100k distinct names); VmRSS before and after. Goal for dnscache: < 64 MiB.
# Cache sizes in the QPS phases: dnscache and dnsmasq --cache-size=10000 (DNSMASQ_CACHE), unbound 4m/4m.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BENCH=${BENCH:-$ROOT/../shared/bench}
. "$BENCH/env.sh"
bench_raise_priority "$@"
export DUR=${1:-${DUR:-20}}
export QUIET_MAX=${QUIET_MAX:-60}
PHASES=${PHASES:-unpinned pinned sweep rss}
DC_ADDR=127.0.0.1
DC_PORT=${DC_PORT:-5356}
if [ -z "${DNSCACHE_BIN:-}" ]; then
  (cd "$ROOT" && cargo build --release -q -p dnscache --bin dnscache)
  DNSCACHE_BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/dnscache
fi
cd "$BENCH"
./gen.sh >/dev/null
QH=$WORK/queries/hit.txt
QM=$WORK/queries/mixed.txt
RSS_OUT=$RESULTS/dnscache-rss.tsv

stop_all() { ./stop.sh dnscache knot dnsmasq unbound >/dev/null 2>&1 || true; }
trap stop_all EXIT
stop_all

# start_dnscache CPUS CACHE_SIZE [extra args...]: writes $WORK/dnscache.bgpid like the kit's servers.
start_dnscache() {
  local cpus=$1 cache=$2
  shift 2
  local pre=()
  [ -n "$cpus" ] && pre=(taskset -c "$cpus")
  "${pre[@]}" "$DNSCACHE_BIN" -k --no-resolv --listen-address="$DC_ADDR" --port="$DC_PORT" \
    --cache-size="$cache" --server="/cluster.local/$KD_ADDR#$KD_PORT" --server="$UP_ADDR#$UP_PORT" \
    "$@" >"$WORK/dnscache.log" 2>&1 &
  echo $! >"$WORK/dnscache.bgpid"
  for _ in $(seq 50); do
    dig +short -p "$DC_PORT" @"$DC_ADDR" svc-1.ns-1.svc.cluster.local A 2>/dev/null | grep -q 10.96 && break
    sleep 0.1
  done
  echo "dnscache pid $(cat "$WORK/dnscache.bgpid") cache=$cache cpus=${cpus:-any} $*"
}

# targets: label server addr port
TARGETS=(
  "dnscache dnscache $DC_ADDR $DC_PORT"
  "dnsmasq  dnsmasq  $DNSMASQ_ADDR $DNSMASQ_PORT"
  "unbound  unbound  $UNBOUND_ADDR $UNBOUND_PORT"
)

# runs SUFFIX ENV...: for every target, hit.txt and mixed.txt at full speed, hit.txt at 20k QPS.
runs() {
  local sfx=$1 t name server addr port
  shift
  local envs=("$@")
  for t in "${TARGETS[@]}"; do
    read -r name server addr port <<<"$t"
    env "${envs[@]}" ./run-dnsperf.sh "$name-hit$sfx" "$server" "$addr" "$port" "$QH"
    env "${envs[@]}" ./run-dnsperf.sh "$name-mixed$sfx" "$server" "$addr" "$port" "$QM"
    env "${envs[@]}" RATE=20000 ./run-dnsperf.sh "$name-hit.Q20k$sfx" "$server" "$addr" "$port" "$QH"
  done
}

for phase in $PHASES; do
  case $phase in
  unpinned)
    echo "== unpinned"
    ./start-knot.sh 2
    ./start-dnsmasq.sh
    ./start-unbound.sh 2
    start_dnscache "" 10000
    runs ".T1" T=1 C=50 Q=100
    stop_all
    ;;
  pinned)
    echo "== pinned: servers and knot on cpu0, dnsperf on cpu1"
    ./start-knot.sh 1 0
    ./start-dnsmasq.sh 0
    ./start-unbound.sh 1 0
    start_dnscache 0 10000
    runs ".pin" T=1 C=50 Q=100 PIN=1
    stop_all
    ;;
  sweep)
    echo "== dnscache miss path vs --cache-size"
    ./start-knot.sh 2
    for size in 1000 10000 100000; do
      start_dnscache "" "$size"
      T=1 C=50 Q=100 ./run-dnsperf.sh "dnscache-mixed.c$size.T1" dnscache "$DC_ADDR" "$DC_PORT" "$QM"
      ./stop.sh dnscache >/dev/null
    done
    stop_all
    ;;
  rss)
    echo "== RSS with 100,000 entries"
    ./start-knot.sh 2
    [ -f "$RSS_OUT" ] || echo -e "server\tcache\trss_empty_kib\trss_full_kib\thwm_kib\tinserted" >"$RSS_OUT"
    rss_of() { awk -v k="$2:" '$1==k{print $2}' "/proc/$1/status"; }
    chaos() { dig +short -p "$2" @"$1" "$3" chaos txt | tr -d '"'; }
    fill() { dnsperf -s "$1" -p "$2" -d "$QM" -n 1 -c 50 -q 200 -t 5 -l 120 >/dev/null 2>&1 || true; }
    start_dnscache "" 100000
    pid=$(cat "$WORK/dnscache.bgpid")
    r0=$(rss_of "$pid" VmRSS)
    fill "$DC_ADDR" "$DC_PORT"
    ins=$(chaos "$DC_ADDR" "$DC_PORT" insertions.bind)
    echo -e "dnscache\t100000\t$r0\t$(rss_of "$pid" VmRSS)\t$(rss_of "$pid" VmHWM)\t$ins" | tee -a "$RSS_OUT"
    ./stop.sh dnscache >/dev/null
    DNSMASQ_CACHE=100000 ./start-dnsmasq.sh >/dev/null
    pid=$(cat "$WORK/dnsmasq.bgpid")
    r0=$(rss_of "$pid" VmRSS)
    fill "$DNSMASQ_ADDR" "$DNSMASQ_PORT"
    ins=$(chaos "$DNSMASQ_ADDR" "$DNSMASQ_PORT" insertions.bind)
    echo -e "dnsmasq\t100000\t$r0\t$(rss_of "$pid" VmRSS)\t$(rss_of "$pid" VmHWM)\t$ins" | tee -a "$RSS_OUT"
    ./stop.sh dnsmasq >/dev/null
    ./start-unbound.sh 2 >/dev/null
    pid=$(cat "$WORK/unbound.bgpid")
    r0=$(rss_of "$pid" VmRSS)
    fill "$UNBOUND_ADDR" "$UNBOUND_PORT"
    echo -e "unbound\t4m/4m\t$r0\t$(rss_of "$pid" VmRSS)\t$(rss_of "$pid" VmHWM)\t-" | tee -a "$RSS_OUT"
    stop_all
    ;;
  *) echo "unknown phase $phase" >&2; exit 2 ;;
  esac
done
echo "done: $RESULTS/summary.tsv ${RSS_OUT}"
