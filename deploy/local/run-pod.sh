#!/usr/bin/env bash
# Runs the whole kube-dns pod on loopback against the example cluster in deploy/examples/,
# no Kubernetes needed: kubedns (manifests source), the nanny running dnscache, the sidecar
# probing both. Ctrl-C stops everything.
#
#   deploy/local/run-pod.sh            # release build, cache on 127.0.0.1:53 as root, else :5353
#   DNS_PORT=5300 deploy/local/run-pod.sh
#   PROFILE=debug deploy/local/run-pod.sh
#
# The nanny's ConfigMap directory is $RUN/config (printed below): write stubDomains or
# upstreamNameservers files there (JSON, as in the kube-dns ConfigMap) and watch it apply.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
PROFILE=${PROFILE:-release}
if [ "$(id -u)" = 0 ]; then DNS_PORT=${DNS_PORT:-53}; else DNS_PORT=${DNS_PORT:-5353}; fi
KUBEDNS_PORT=${KUBEDNS_PORT:-10053}
DOMAIN=${DOMAIN:-cluster.local}
MANIFESTS=${MANIFESTS:-$root/deploy/examples}

if [ "$PROFILE" = release ]; then cargo build --release -p kubedns -p dnscache -p nanny -p sidecar; else cargo build -p kubedns -p dnscache -p nanny -p sidecar; fi
bin="${CARGO_TARGET_DIR:-$root/target}/$PROFILE"

RUN=$(mktemp -d /tmp/kube-dns-pod.XXXXXX)
mkdir -p "$RUN/config"
pids=()
stop() {
  trap - INT TERM EXIT
  echo; echo "stopping the pod..."
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  # Each binary drains within a few seconds; anything still running after 10 s is killed.
  for _ in $(seq 100); do
    alive=0; for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break; sleep 0.1
  done
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$RUN"
}
trap stop INT TERM EXIT

"$bin/kubedns" --domain="$DOMAIN." --manifests="$MANIFESTS" --dns-bind-address=127.0.0.1 \
  --dns-port="$KUBEDNS_PORT" --healthz-port=8081 --metrics-port=10055 --v=2 \
  2> >(sed -u 's/^/[kubedns] /' >&2) &
pids+=($!)

"$bin/nanny" -v=2 -logtostderr -configDir="$RUN/config" -restartDnsmasq=true -dnsmasqExec="$bin/dnscache" -- \
  -k --cache-size=1000 --no-negcache --dns-loop-detect --log-facility=- \
  --listen-address=127.0.0.1 --port="$DNS_PORT" \
  --server=/"$DOMAIN"/127.0.0.1#"$KUBEDNS_PORT" \
  --server=/in-addr.arpa/127.0.0.1#"$KUBEDNS_PORT" --server=/ip6.arpa/127.0.0.1#"$KUBEDNS_PORT" \
  2> >(sed -u 's/^/[dnsmasq] /' >&2) &
pids+=($!)

"$bin/sidecar" --v=2 --logtostderr --prometheus-addr=127.0.0.1 --prometheus-port=10054 \
  --dnsmasq-addr=127.0.0.1 --dnsmasq-port="$DNS_PORT" \
  --probe=kubedns,127.0.0.1:"$KUBEDNS_PORT",kubernetes.default.svc."$DOMAIN",5,SRV \
  --probe=dnsmasq,127.0.0.1:"$DNS_PORT",kubernetes.default.svc."$DOMAIN",5,SRV \
  2> >(sed -u 's/^/[sidecar] /' >&2) &
pids+=($!)

sleep 1
cat <<EOT

kube-dns pod running on loopback (example cluster: $MANIFESTS)
  dnscache (the Service's port 53)   udp+tcp 127.0.0.1:$DNS_PORT
  kubedns                            udp+tcp 127.0.0.1:$KUBEDNS_PORT
  kubedns readiness / metrics        http://127.0.0.1:8081/readiness  http://127.0.0.1:10055/metrics
  sidecar metrics / health checks    http://127.0.0.1:10054/metrics  http://127.0.0.1:10054/healthcheck/kubedns
  nanny ConfigMap directory          $RUN/config

Try:
  dig @127.0.0.1 -p $DNS_PORT my-nginx.default.svc.$DOMAIN
  dig @127.0.0.1 -p $DNS_PORT SRV _web80._tcp.web.coocla.svc.$DOMAIN
  dig @127.0.0.1 -p $DNS_PORT client-svc.default.svc.$DOMAIN
  dig @127.0.0.1 -p $DNS_PORT -x 10.96.0.1
  dig @127.0.0.1 -p $DNS_PORT TXT dns-version.$DOMAIN
  curl -s http://127.0.0.1:10054/healthcheck/dnsmasq
  echo '{"acme.local": ["127.0.0.1:5300"]}' > $RUN/config/stubDomains

Ctrl-C stops everything.
EOT
wait -n "${pids[@]}" || true
echo "a container exited; stopping the pod" >&2
