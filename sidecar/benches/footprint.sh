#!/usr/bin/env bash
# sidecar footprint: RSS, CPU per second and /metrics + /healthcheck latency, with the kube-dns
# manifest's probes (interval 5 s, SRV) pointed at a real dnscache on loopback.
# The manifest asks for cpu 10m and memory 20Mi for this container; these are the numbers to
# hold against that.
#
#   sidecar/benches/footprint.sh [DUR_SECONDS=30] [SCRAPES=2000]
#
# Loopback only, bounded by DUR and SCRAPES; builds the binaries first (PROFILE=release by
# default; PROFILE=debug for a quick check of the script itself).
# Prints one TSV line: rss_kib  cpu_ms_per_s  scrape_p50_ms  scrape_p99_ms  health_p50_ms
set -euo pipefail
DUR=${1:-30}
SCRAPES=${2:-2000}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
PROFILE=${PROFILE:-release}
if [ "$PROFILE" = release ]; then
    cargo build --quiet --release -p sidecar -p dnscache --manifest-path "$ROOT/Cargo.toml"
else
    cargo build --quiet -p sidecar -p dnscache --manifest-path "$ROOT/Cargo.toml"
fi
BIN=$TARGET/$([ "$PROFILE" = release ] && echo release || echo debug)
WORK=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
CACHE_PORT=$(free_port)
HTTP_PORT=$(free_port)

# dnscache with no upstream: it answers the CHAOS *.bind. names the sidecar scrapes.
"$BIN/dnscache" -k --listen-address=127.0.0.1 --port="$CACHE_PORT" --no-resolv \
    --cache-size=1000 2>"$WORK/dnscache.log" &
pids+=($!)
"$BIN/sidecar" --v=2 --logtostderr \
    --probe="kubedns,127.0.0.1:$CACHE_PORT,kubernetes.default.svc.cluster.local,5,SRV" \
    --probe="dnsmasq,127.0.0.1:$CACHE_PORT,kubernetes.default.svc.cluster.local,5,SRV" \
    --dnsmasq-port="$CACHE_PORT" --prometheus-addr=127.0.0.1 --prometheus-port="$HTTP_PORT" \
    2>"$WORK/sidecar.log" &
SIDECAR=$!
pids+=("$SIDECAR")
for _ in $(seq 50); do grep -q 'listening on http' "$WORK/sidecar.log" && break; sleep 0.1; done

ticks() { awk '{print $14 + $15}' "/proc/$SIDECAR/stat"; }
HZ=$(getconf CLK_TCK)
t0=$(ticks)
sleep "$DUR"
t1=$(ticks)
cpu_ms_per_s=$(awk -v a="$t0" -v b="$t1" -v hz="$HZ" -v d="$DUR" 'BEGIN{printf "%.3f", (b-a)*1000/hz/d}')
rss=$(awk '/VmRSS/{print $2}' "/proc/$SIDECAR/status")

lat() { # path count -> sorted latencies in ms
    for _ in $(seq "$2"); do
        curl -s -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$HTTP_PORT$1"
    done | awk '{printf "%.3f\n", $1*1000}' | sort -n
}
pct() { awk -v p="$1" '{a[NR]=$1} END{i=int(NR*p); if(i<1)i=1; print a[i]}'; }
m=$(lat /metrics "$SCRAPES")
h=$(lat /healthcheck/kubedns "$((SCRAPES / 4))")
printf 'rss_kib\tcpu_ms_per_s\tscrape_p50_ms\tscrape_p99_ms\thealth_p50_ms\n'
printf '%s\t%s\t%s\t%s\t%s\n' "$rss" "$cpu_ms_per_s" \
    "$(pct 0.5 <<<"$m")" "$(pct 0.99 <<<"$m")" "$(pct 0.5 <<<"$h")"
