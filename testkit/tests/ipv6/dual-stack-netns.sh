#!/bin/sh
# Runs inside `unshare --net`: a node whose only routable address is IPv6 (fd00::53 on one end
# of a veth pair, or on lo where veth is missing) besides loopback (127.0.0.1, ::1). Starts kubedns, the nanny running dnscache and
# the sidecar with the default listen addresses of their manifest command lines (wildcards),
# then asks each server over UDP and TCP on every address and scrapes the sidecar on both
# families. Prints "RESULT <what>: <answer>" lines for the test to check.
# Env: KUBEDNS NANNY DNSCACHE SIDECAR MANIFESTS WORK (a writable temp dir).
set -u
ip link set lo up
if ip link add v0 type veth peer name v1 2>/dev/null; then
  ip link set v0 up && ip link set v1 up && ip -6 addr add fd00::53/64 dev v0 nodad
else
  ip -6 addr add fd00::53/64 dev lo
fi
mkdir -p "$WORK/cm"
"$KUBEDNS" --manifests="$MANIFESTS" --domain=cluster.local. --dns-port=10053 --lameduck=0 2>"$WORK/kubedns.log" &
kd=$!
"$NANNY" -v=2 -logtostderr -configDir="$WORK/cm" -dnsmasqExec="$DNSCACHE" -lameduck=0 -- \
  -k --cache-size=1000 --no-negcache --no-resolv \
  --server=/cluster.local/127.0.0.1#10053 --server=/in-addr.arpa/127.0.0.1#10053 --server=/ip6.arpa/127.0.0.1#10053 \
  2>"$WORK/nanny.log" &
nn=$!
"$SIDECAR" --v=2 --logtostderr --lameduck=0 \
  --probe=kubedns,127.0.0.1:10053,kubernetes.default.svc.cluster.local,1,A \
  --probe=dnsmasq,[fd00::53]:53,kubernetes.default.svc.cluster.local,1,A 2>"$WORK/sidecar.log" &
sc=$!
name=my-nginx.default.svc.cluster.local
i=0
until [ "$(dig +short +time=1 +tries=1 @fd00::53 -p 53 $name)" != "" ]; do
  i=$((i+1)); [ $i -gt 50 ] && { echo "pod never answered"; cat "$WORK"/*.log; break; }
  sleep 0.1
done
for server in 10053 53; do
  for addr in fd00::53 ::1 127.0.0.1; do
    for proto in notcp tcp; do
      echo "RESULT dns $server $addr $proto: $(dig +short +time=2 +tries=1 +$proto @$addr -p $server $name | tr '\n' ' ')"
    done
  done
done
i=0
until curl -sf -g "http://[fd00::53]:10054/healthcheck/dnsmasq" >/dev/null 2>&1 &&
      curl -sf "http://127.0.0.1:10054/healthcheck/kubedns" >/dev/null 2>&1; do
  i=$((i+1)); [ $i -gt 50 ] && { curl -s "http://127.0.0.1:10054/healthcheck/kubedns"; cat "$WORK/sidecar.log"; break; }
  sleep 0.1
done
for url in "http://[fd00::53]:10054/healthcheck/dnsmasq" "http://127.0.0.1:10054/healthcheck/kubedns" \
           "http://[fd00::53]:8081/readiness" "http://127.0.0.1:10055/metrics"; do
  echo "RESULT http $url: $(curl -s -g -o /dev/null -w '%{http_code}' --max-time 2 "$url")"
done
kill -TERM $sc $nn $kd 2>/dev/null
wait
