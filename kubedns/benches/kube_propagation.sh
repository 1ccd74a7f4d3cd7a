#!/usr/bin/env bash
# Propagation latency of the kube source: the fake API server (in the driver process) writes a
# ClusterIP change; time until the kubedns binary's UDP answer carries the new address.
# Usage: kubedns/benches/kube_propagation.sh [CHANGES]   (default 1000; 30 for a smoke run)
# Prints: RESULT bench=propagation changes=N p50_ms=.. p99_ms=.. max_ms=..   Goal: p99 < 100 ms.
set -euo pipefail
. "$(dirname "$0")/kube_lib.sh"
KUBE_BENCH_CHANGES=${1:-1000} kube_bench bench_propagation
