#!/usr/bin/env bash
# dnsperf QPS against kubedns fed by the fake API server, without and with endpoint churn.
# The driver (kube_bench::bench_churn_server) serves the kit's cluster zone (svc-S.ns-N, 100 x 100,
# A 10.96.x.y, 2 endpoints each) and starts kubedns on $KD_BENCH_ADDR:$KD_BENCH_PORT; this script
# runs the kit's run-dnsperf.sh on those 10,000 names for DUR seconds, once with RATE=0 and once
# with RATE endpoint-slice updates per second. Rows go to $RESULTS/summary.tsv (labels
# kubedns-kube-nochurn, kubedns-kube-churnRATE); compare their QPS.
# Usage: kubedns/benches/kube_churn.sh [DUR] [RATE]   (default 60 100; smoke: 3 100)
set -euo pipefail
. "$(dirname "$0")/kube_lib.sh"
BENCH=${BENCH:-$ROOT/../shared/bench}
. "$BENCH/env.sh"
bench_raise_priority "$@"
DUR=${1:-60}
RATE=${2:-100}
ADDR=${KD_BENCH_ADDR:-127.0.0.5}
PORT=${KD_BENCH_PORT:-5357}
flag=()
[ "$PROFILE" = release ] && flag=(--release)
(cd "$ROOT" && cargo test -q "${flag[@]}" -p kubedns --test kube_bench --no-run 2>/dev/null)
QC=$WORK/queries/kube-cluster.txt
mkdir -p "$WORK/queries"
awk 'BEGIN{for(n=0;n<100;n++)for(s=0;s<100;s++) printf "svc-%d.ns-%d.svc.cluster.local A\n", s, n}' >"$QC"
driver=""
stop_driver() {
  touch "$WORK/kube-churn.stop"
  [ -n "$driver" ] && wait "$driver" 2>/dev/null || true
}
trap stop_driver EXIT
for rate in 0 "$RATE"; do
  rm -f "$WORK/kube-churn.ready" "$WORK/kube-churn.stop"
  (cd "$ROOT" && WORK=$WORK KUBE_BENCH_RATE=$rate KUBE_BENCH_ADDR=$ADDR KUBE_BENCH_PORT=$PORT \
    KUBE_BENCH_MAX_SECS=$((DUR + 120)) cargo test -q "${flag[@]}" -p kubedns --test kube_bench -- \
    --ignored --exact bench_churn_server --nocapture 2>/dev/null | grep '^RESULT') &
  driver=$!
  for _ in $(seq 1200); do [ -e "$WORK/kube-churn.ready" ] && break; sleep 0.1; done
  [ -e "$WORK/kube-churn.ready" ] || { echo "kubedns (kube source) not ready" >&2; exit 1; }
  label=kubedns-kube-nochurn
  [ "$rate" != 0 ] && label=kubedns-kube-churn$rate
  (cd "$BENCH" && DUR=$DUR ./run-dnsperf.sh "$label" kubedns "$ADDR" "$PORT" "$QC")
  stop_driver
  driver=""
done
