# Shared by kube_*.sh: builds the kube_bench test driver (kubedns/tests/kube_bench.rs) and runs
# one of its ignored benchmark tests. PROFILE=release (default) or PROFILE=dev for a smoke run.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PROFILE=${PROFILE:-release}
# kube_bench NAME: prints the driver's RESULT line (and appends it to $RESULTS/kube.tsv if set).
kube_bench() {
  local flag=()
  [ "$PROFILE" = release ] && flag=(--release)
  (cd "$ROOT" && cargo test -q "${flag[@]}" -p kubedns --test kube_bench --no-run 2>/dev/null)
  local out
  out=$(cd "$ROOT" && cargo test -q "${flag[@]}" -p kubedns --test kube_bench -- \
    --ignored --exact "$1" --nocapture --test-threads 1 2>/dev/null | grep '^RESULT')
  echo "$out"
  if [ -n "${RESULTS:-}" ]; then
    mkdir -p "$RESULTS"
    printf '%s\tprofile=%s\t%s\n' "$(date -u +%FT%TZ)" "$PROFILE" "${out#RESULT }" >>"$RESULTS/kube.tsv"
  fi
}
