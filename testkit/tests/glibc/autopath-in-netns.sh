#!/bin/sh
# Runs inside `unshare --net --mount`: two pods' worth of addresses on a private loopback
# (10.244.1.5 in namespace default, 10.244.2.7 in namespace other), the DNS Service address
# 10.96.0.10 where dnscache listens, kubedns (with --pods=verified, the Pods in the manifests)
# and a mock upstream for example.test. The source address the glibc resolver uses is chosen
# with the preferred source of the local route to 10.96.0.10, so `getent` asks as that pod.
# Prints "RESULT <pod> <kind> <name>: <getent output>", "CLIENT <pod> <kind> <name>: <queries
# dnscache received>" and "UPSTREAM <pod> <kind> <name>: <queries the mock received>".
# Env: KUBEDNS NANNY DNSCACHE MOCK MANIFESTS WORK, AUTOPATH (on|off), QUERIES (space-separated
# "pod:kind:name", pod a or b), FORGED (on: also ask kubedns directly with a forged subnet),
# NAMES_FILE (optional, for kubedns/benches/autopath.sh: `getent ahosts` of every name in it as
# pod a, then one line "BENCH names=N client=<queries> upstream=<queries> seconds=<total>").
set -u
ip link set lo up
ip addr add 10.96.0.10/32 dev lo
ip addr add 10.244.1.5/32 dev lo
ip addr add 10.244.2.7/32 dev lo
# A global IPv6 address too, so getaddrinfo (AI_ADDRCONFIG) asks AAAA as on a dual-stack node.
ip addr add fd00:10::5/128 dev lo
as_pod() {
  ip route change local 10.96.0.10 dev lo table local proto kernel scope host src "$1"
}
for ns in default other; do
  printf 'nameserver 10.96.0.10\nsearch %s.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n' "$ns" > "$WORK/resolv-$ns.conf"
done
cp "$WORK/resolv-default.conf" "$WORK/resolv.conf"
printf 'hosts: files dns\n' > "$WORK/nsswitch.conf"
: > "$WORK/hosts"
mount --bind "$WORK/resolv.conf" /etc/resolv.conf
mount --bind "$WORK/nsswitch.conf" /etc/nsswitch.conf
mount --bind "$WORK/hosts" /etc/hosts
mkdir -p "$WORK/cm" "$WORK/objects"
cp "$MANIFESTS"/*.yaml "$WORK/objects/"
cat > "$WORK/objects/zz-autopath-pods.yaml" <<'PODS'
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: default}
status: {phase: Running, podIP: 10.244.1.5}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: other}
status: {phase: Running, podIP: 10.244.2.7}
PODS
"$MOCK" 127.0.0.1 example.test "${MOCK_SECONDS:-120}" > "$WORK/upstream.log" 2>&1 &
up=$!
i=0
until grep -q '^listening' "$WORK/upstream.log"; do i=$((i+1)); [ $i -gt 100 ] && break; sleep 0.1; done
upport=$(sed -n 's/^listening on udp 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$WORK/upstream.log")
kd_flags="--pods=verified"
cache_flags=""
if [ "$AUTOPATH" = on ]; then
  kd_flags="--pods=verified --autopath"
  cache_flags="--add-subnet"
fi
# shellcheck disable=SC2086
"$KUBEDNS" --manifests="$WORK/objects" $kd_flags --lameduck=0 --dns-bind-address=127.0.0.1 --dns-port=10053 --healthz-port=18081 --metrics-port=10055 2>"$WORK/kubedns.log" &
kd=$!
# shellcheck disable=SC2086
"$NANNY" -v=2 -logtostderr -lameduck=0 -configDir="$WORK/cm" -restartDnsmasq=true -dnsmasqExec="$DNSCACHE" -- \
  -k --cache-size=1000 --no-negcache --listen-address=10.96.0.10 --port=53 --no-resolv \
  --server=/cluster.local/127.0.0.1#10053 --server=/in-addr.arpa/127.0.0.1#10053 --server=/ip6.arpa/127.0.0.1#10053 \
  --server="127.0.0.1#$upport" $cache_flags 2>"$WORK/nanny.log" &
nn=$!
as_pod 10.244.1.5
i=0
until getent hosts kubernetes.default.svc.cluster.local >/dev/null 2>&1; do
  i=$((i+1)); [ $i -gt 200 ] && { echo "pod never answered"; cat "$WORK/kubedns.log" "$WORK/nanny.log"; break; }
  sleep 0.1
done
# Queries dnscache received so far (every query is a hit or a miss; CHAOS ones are neither).
received() {
  total=0
  for c in hits misses; do
    n=$(dig @10.96.0.10 +short +tries=1 chaos txt "$c.bind" | tr -d '"')
    total=$((total + ${n:-0}))
  done
  echo "$total"
}
upstream() { grep -c '^query' "$WORK/upstream.log"; }
for q in $QUERIES; do
  pod=${q%%:*}; rest=${q#*:}; kind=${rest%%:*}; name=${rest#*:}
  if [ "$pod" = b ]; then as_pod 10.244.2.7; cp "$WORK/resolv-other.conf" "$WORK/resolv.conf"
  else as_pod 10.244.1.5; cp "$WORK/resolv-default.conf" "$WORK/resolv.conf"; fi
  before=$(received); ubefore=$(upstream)
  echo "RESULT $pod $kind $name: $(getent "$kind" "$name" | tr '\n' ' ')"
  echo "CLIENT $pod $kind $name: $(( $(received) - before ))"
  echo "UPSTREAM $pod $kind $name: $(( $(upstream) - ubefore ))"
done
if [ -n "${NAMES_FILE:-}" ]; then
  as_pod 10.244.1.5; cp "$WORK/resolv-default.conf" "$WORK/resolv.conf"
  before=$(received); ubefore=$(upstream)
  t0=$(date +%s.%N)
  # Many names per getent process: the time is the resolver's, not process start-up.
  xargs -n 100 getent ahosts < "$NAMES_FILE" > "$WORK/bench.out"
  n=$(wc -l < "$NAMES_FILE")
  t1=$(date +%s.%N)
  echo "BENCH names=$n client=$(( $(received) - before )) upstream=$(( $(upstream) - ubefore )) seconds=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')"
fi
if [ "${FORGED:-off}" = on ]; then
  q=api.example.test.default.svc.cluster.local
  # Claims to be the pod of namespace default, but comes from the other pod: not trusted.
  echo "FORGED untrusted: $(dig -b 10.244.2.7 @127.0.0.1 -p 10053 +subnet=10.244.1.5/32 +noall +comments +answer "$q" A | grep -E 'status:|CNAME|CLIENT-SUBNET' | tr '\n' ' ')"
  # The same from loopback (where the cache sits): trusted.
  echo "FORGED trusted: $(dig -b 127.0.0.1 @127.0.0.1 -p 10053 +subnet=10.244.1.5/32 +noall +comments +answer "$q" A | grep -E 'status:|CNAME|CLIENT-SUBNET' | tr '\n' ' ')"
fi
kill -TERM $nn $kd $up 2>/dev/null
wait
