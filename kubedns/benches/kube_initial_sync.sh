#!/usr/bin/env bash
# Initial sync from the fake API server: SERVICES Services with EPS ready endpoints each in one
# EndpointSlice per Service (default 10,000 x 10 = 100,000 endpoints, listed in pages of 500).
# Measures spawn -> last Service answering over UDP, and kubedns's VmRSS half a second later.
# Usage: kubedns/benches/kube_initial_sync.sh [SERVICES] [EPS]   (smoke: 1000 10)
# Env: KUBE_BENCH_HEADLESS=1 makes every Service headless (all endpoints stored and served;
#      with ClusterIP Services, the default, endpoints are not stored: watch/trim.rs).
# Prints: RESULT bench=initial_sync services=.. endpoints=.. ready_s=.. rss_mib=..
# Goals: ready < 5 s, RSS <= 80 MiB.
set -euo pipefail
. "$(dirname "$0")/kube_lib.sh"
KUBE_BENCH_SERVICES=${1:-10000} KUBE_BENCH_ENDPOINTS=${2:-10} kube_bench bench_initial_sync
