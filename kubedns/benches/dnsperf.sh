#!/usr/bin/env bash
# kubedns against knot (authoritative peer) with the shared loopback kit (../shared/bench from the repo root).
# Both serve the same cluster.local zone: 100 namespaces x 100 services (svc-S.ns-N, A 10.96.x.y,
# TTL 30, as the kit's gen.sh), kubedns from a generated --manifests file, knot from the zone file.
#
# Usage: kubedns/benches/dnsperf.sh [DUR]     DUR seconds per run (default 20; 3 for a smoke run)
# Env:   BENCH       kit directory (default ../shared/bench from the repo root)
#        WORK        kit work dir (default /tmp/dnsbench; queries, pidfiles, results)
#        KUBEDNS_BIN binary to test (default: cargo build --release, $CARGO_TARGET_DIR or target/)
#        KD_BENCH_ADDR/KD_BENCH_PORT  kubedns address (default 127.0.0.5:5357)
#        PHASES      subset of "unpinned pinned big" (default: all)
#        ROUNDS      rounds of the unpinned and pinned phases (default 9)
#
# Phases (rows go to $RESULTS/summary.tsv, same columns as the kit; big to $RESULTS/kubedns-big.tsv):
#   unpinned  knot 2 UDP workers and kubedns (2 UDP sockets); cluster.txt (the 10,000 service
#             names, shuffled) at full speed (dnsperf -T 1 -c 50 -q 100) and at a fixed 20k QPS
#             (-Q 20000): server CPU per query in µs = srv_cpu% / 2 (knot's 4.5 µs is 9 %).
#             ROUNDS rounds, each running knot then kubedns, so that both see the same
#             machine; the ratios of the medians, and the medians of each round's ratios, go
#             to $RESULTS/kubedns-vs-knot.tsv. (On a
#             2-core VM one server's saturation figure moves by 20 % between runs a minute
#             apart: a single pair of runs says little, and 5 rounds proved too few for a
#             10 % difference to show in every run.)
#   pinned    knot (1 worker) and kubedns (1 socket, 1 runtime thread) on cpu0, dnsperf on cpu1.
#   big       10,000 Services with 10 ready endpoints each (100,000 endpoints, EndpointSlices),
#             once as ClusterIP Services, once headless (100k A records in the zone): time to
#             ready, kubedns_zone_last_rebuild_seconds, VmRSS and VmHWM (peak, includes YAML
#             parsing), from minimal manifests (no kubectl metadata). The memory goals of a
#             cluster as kubectl prints it (RSS <= 40 MiB, ready <= 2 s, rebuild < 100 ms) are
#             measured by memory.sh; this phase is a quick look next to the QPS figures.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BENCH=${BENCH:-$ROOT/../shared/bench}
. "$BENCH/env.sh"
bench_raise_priority "$@"
export DUR=${1:-${DUR:-20}}
export QUIET_MAX=${QUIET_MAX:-60}
PHASES=${PHASES:-unpinned pinned big}
KDB_ADDR=${KD_BENCH_ADDR:-127.0.0.5}
KDB_PORT=${KD_BENCH_PORT:-5357}
HTTP_PORT=$((KDB_PORT + 1))
METRICS_PORT=$((KDB_PORT + 2))
if [ -z "${KUBEDNS_BIN:-}" ]; then
  (cd "$ROOT" && cargo build --release -q -p kubedns --bin kubedns)
  KUBEDNS_BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/kubedns
fi
cd "$BENCH"
./gen.sh >/dev/null
M=$WORK/kubedns; mkdir -p "$M"
QC=$WORK/queries/cluster.txt
BIG_OUT=$RESULTS/kubedns-big.tsv

# The zone of gen.sh as Services (same names, same IPs), and the query file of its names.
awk -v nns="$N_NS" -v nsvc="$N_SVC" 'BEGIN{ k=0;
  for (n=0;n<nns;n++) for (s=0;s<nsvc;s++) {
    ip=sprintf("10.96.%d.%d", int(k/250), (k%250)+1); k++;
    printf "---\napiVersion: v1\nkind: Service\nmetadata: {name: svc-%d, namespace: ns-%d}\n", s, n;
    printf "spec: {clusterIP: %s, clusterIPs: [%s], ports: [{name: http, port: 80, protocol: TCP}]}\n", ip, ip } }' \
  > "$M/cluster.yaml"
grep '\.cluster\.local A$' "$WORK/queries/mixed.txt" >"$QC"

stop_all() { ./stop.sh kubedns knot >/dev/null 2>&1 || true; }
trap stop_all EXIT
stop_all

# start_kubedns CPUS MANIFEST [extra args...]: writes $WORK/kubedns.bgpid like the kit's servers.
start_kubedns() {
  local cpus=$1 manifest=$2
  shift 2
  local pre=()
  [ -n "$cpus" ] && pre=(taskset -c "$cpus")
  "${pre[@]}" "$KUBEDNS_BIN" --manifests="$manifest" --dns-bind-address="$KDB_ADDR" \
    --dns-port="$KDB_PORT" --healthz-port="$HTTP_PORT" --metrics-port="$METRICS_PORT" \
    --initial-sync-timeout=120s "$@" >"$WORK/kubedns.log" 2>&1 &
  echo $! >"$WORK/kubedns.bgpid"
  for _ in $(seq 600); do
    curl -sf "http://$KDB_ADDR:$HTTP_PORT/readiness" >/dev/null 2>&1 && break
    sleep 0.1
  done
  dig +short -p "$KDB_PORT" @"$KDB_ADDR" svc-1.ns-1.svc.cluster.local A | grep -q "^10\." ||
    { echo "kubedns not answering; log:" >&2; tail -5 "$WORK/kubedns.log" >&2; exit 1; }
  echo "kubedns pid $(cat "$WORK/kubedns.bgpid") cpus=${cpus:-any} $*"
}

ROUNDS=${ROUNDS:-9}
RATIO_OUT=$RESULTS/kubedns-vs-knot.tsv

runs() { # SUFFIX ENV...
  local sfx=$1
  shift
  local first
  first=$(($(wc -l <"$RESULTS/summary.tsv" 2>/dev/null || echo 1) + 1))
  for _ in $(seq "$ROUNDS"); do
    env "$@" ./run-dnsperf.sh "knot-cluster$sfx" knot "$KD_ADDR" "$KD_PORT" "$QC"
    env "$@" ./run-dnsperf.sh "kubedns-cluster$sfx" kubedns "$KDB_ADDR" "$KDB_PORT" "$QC"
    env "$@" RATE=20000 ./run-dnsperf.sh "knot-cluster-20k$sfx" knot "$KD_ADDR" "$KD_PORT" "$QC"
    env "$@" RATE=20000 ./run-dnsperf.sh "kubedns-cluster-20k$sfx" kubedns "$KDB_ADDR" "$KDB_PORT" "$QC"
  done
  ratios "$sfx" "$first"
}

# ratios SUFFIX FIRST_ROW: medians of this phase's rows (QPS, server CPU %, CPU per query) and
# kubedns/knot ratios, at saturation and at 20k QPS.
ratios() {
  [ -f "$RATIO_OUT" ] || echo -e "date\tphase\trounds\tknot_qps\tkubedns_qps\tqps_ratio\tknot_us_per_q\tkubedns_us_per_q\tcpu_per_q_ratio\tknot_20k_cpu%\tkubedns_20k_cpu%\tpaired_qps_ratio\tpaired_cpu_per_q_ratio" >"$RATIO_OUT"
  tail -n +"$2" "$RESULTS/summary.tsv" | awk -F'\t' -v sfx="$1" -v rounds="$ROUNDS" -v date="$(date -u +%FT%TZ)" '
    function median(a, n,   i, j, t) { for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
      return n % 2 ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2 }
    { k = $1; qps = $12 + 0; cpu = $20 + 0
      if (k == "knot-cluster" sfx) { kq[++nk] = qps; ku[nk] = qps ? cpu * 10000 / qps : 0 }
      if (k == "kubedns-cluster" sfx) { dq[++nd] = qps; du[nd] = qps ? cpu * 10000 / qps : 0 }
      if (k == "knot-cluster-20k" sfx) kc[++nkc] = cpu
      if (k == "kubedns-cluster-20k" sfx) dc[++ndc] = cpu }
    END { if (!nk || !nd) exit
      # Paired: the kubedns run of each round against the knot run just before it.
      for (i = 1; i <= nk && i <= nd; i++) { pq[i] = kq[i] ? dq[i] / kq[i] : 0; pc[i] = ku[i] ? du[i] / ku[i] : 0; np = i }
      a = median(kq, nk); b = median(dq, nd); c = median(ku, nk); d = median(du, nd)
      printf "%s\t%s\t%d\t%.0f\t%.0f\t%.2f\t%.2f\t%.2f\t%.2f\t%s\t%s\t%.2f\t%.2f\n", date, (sfx == "" ? "unpinned" : substr(sfx, 2)), rounds,
        a, b, b / a, c, d, d / c, (nkc ? median(kc, nkc) : "-"), (ndc ? median(dc, ndc) : "-"), median(pq, np), median(pc, np) }' | tee -a "$RATIO_OUT"
}

for phase in $PHASES; do
  case $phase in
  unpinned)
    ./start-knot.sh 2 >/dev/null
    start_kubedns "" "$M/cluster.yaml" --udp-sockets=2
    runs "" T=1
    stop_all
    ;;
  pinned)
    ./start-knot.sh 1 0 >/dev/null
    start_kubedns 0 "$M/cluster.yaml" --udp-sockets=1
    runs "-pinned" T=1 PIN=1
    stop_all
    ;;
  big)
    [ -f "$BIG_OUT" ] || echo -e "date\tkind\tservices\tendpoints\tready_s\trebuild_s\trss_kib\thwm_kib" >"$BIG_OUT"
    for kind in clusterip headless; do
      awk -v kind="$kind" 'BEGIN{ k=0;
        for (n=0;n<100;n++) for (s=0;s<100;s++) {
          ip=sprintf("10.96.%d.%d", int(k/250), (k%250)+1);
          if (kind == "headless") ip="None";
          printf "---\napiVersion: v1\nkind: Service\nmetadata: {name: svc-%d, namespace: ns-%d}\n", s, n;
          printf "spec: {clusterIP: %s, clusterIPs: [%s], ports: [{name: http, port: 80, protocol: TCP}]}\n", ip, ip;
          printf "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\naddressType: IPv4\n";
          printf "metadata: {name: svc-%d-1, namespace: ns-%d, labels: {kubernetes.io/service-name: svc-%d}}\n", s, n, s;
          printf "ports: [{name: http, port: 8080, protocol: TCP}]\nendpoints:\n";
          for (e=0;e<10;e++) { j=k*10+e;
            printf "- addresses: [10.%d.%d.%d]\n  conditions: {ready: true}\n", 128+int(j/62500), int(j/250)%250, (j%250)+1 }
          k++ } }' >"$M/big-$kind.yaml"
      t0=$(date +%s.%N)
      start_kubedns "" "$M/big-$kind.yaml"
      t1=$(date +%s.%N)
      sleep 1
      rebuild=$(curl -s "http://$KDB_ADDR:$METRICS_PORT/metrics" | awk '/^kubedns_zone_last_rebuild_seconds /{print $2}')
      pid=$(cat "$WORK/kubedns.bgpid")
      rss=$(awk '/^VmRSS/{print $2}' "/proc/$pid/status")
      hwm=$(awk '/^VmHWM/{print $2}' "/proc/$pid/status")
      row="$(date -u +%FT%TZ)\t$kind\t10000\t100000\t$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')\t$rebuild\t$rss\t$hwm"
      echo -e "$row" | tee -a "$BIG_OUT"
      stop_all
    done
    ;;
  *) echo "unknown phase $phase" >&2; exit 2 ;;
  esac
done
