#!/usr/bin/env bash
# Memory, start-up and rebuild of kubedns for a generated cluster with kubectl's metadata
# (testkit::cluster): SERVICES Services, EPS endpoints each, PCT% headless; from the fake API
# server and from one `kind: List` YAML file (--manifests).
# Usage: kubedns/benches/memory.sh [SERVICES] [EPS] [PCT]      (default 10000 10 30)
#        kubedns/benches/memory.sh churn [CYCLES]               (Service create/delete cycles)
# Prints: RESULT bench=memory source=api|file ... ready_s rss_ready_mib rss_10s_mib hwm_mib rebuild_s
# Goals (10,000 Services, 30% headless, 100,000 endpoints): RSS 10 s after ready <= 40 MiB, peak
# <= 64 MiB (API), ready <= 2 s, rebuild < 100 ms; churn: RSS within 5% of the start.
set -euo pipefail
. "$(dirname "$0")/kube_lib.sh"
uptime
if [ "${1:-}" = churn ]; then
  KUBE_BENCH_CYCLES=${2:-100000} kube_bench bench_service_churn_memory
  exit
fi
for source in api file; do
  KUBE_BENCH_SOURCE=$source KUBE_BENCH_SERVICES=${1:-10000} KUBE_BENCH_ENDPOINTS=${2:-10} \
    KUBE_BENCH_HEADLESS_PERCENT=${3:-30} kube_bench bench_memory
done
