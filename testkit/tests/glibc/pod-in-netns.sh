#!/bin/sh
# Runs inside `unshare --net --mount`: a private loopback, the pod's resolv.conf and nsswitch.conf
# bind-mounted over /etc, kubedns + nanny(dnscache on port 53), then the glibc resolver (getent)
# asks the questions a pod would. Prints "RESULT <query>: <getent output>" lines.
# Env: KUBEDNS NANNY DNSCACHE MANIFESTS WORK (a writable temp dir), QUERIES (space-separated "kind:name").
set -u
ip link set lo up
printf 'nameserver 127.0.0.1\nsearch default.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n' > "$WORK/resolv.conf"
printf 'hosts: files dns\n' > "$WORK/nsswitch.conf"
: > "$WORK/hosts"
mount --bind "$WORK/resolv.conf" /etc/resolv.conf
mount --bind "$WORK/nsswitch.conf" /etc/nsswitch.conf
mount --bind "$WORK/hosts" /etc/hosts
mkdir -p "$WORK/cm"
"$KUBEDNS" --manifests="$MANIFESTS" --dns-bind-address=127.0.0.1 --dns-port=10053 --healthz-port=18081 --metrics-port=10055 2>"$WORK/kubedns.log" &
kd=$!
"$NANNY" -v=2 -logtostderr -configDir="$WORK/cm" -restartDnsmasq=true -dnsmasqExec="$DNSCACHE" -- \
  -k --cache-size=1000 --no-negcache --listen-address=127.0.0.1 --port=53 --no-resolv \
  --server=/cluster.local/127.0.0.1#10053 --server=/in-addr.arpa/127.0.0.1#10053 --server=/ip6.arpa/127.0.0.1#10053 \
  2>"$WORK/nanny.log" &
nn=$!
i=0
until getent hosts kubernetes.default.svc.cluster.local >/dev/null 2>&1; do
  i=$((i+1)); [ $i -gt 200 ] && { echo "pod never answered"; cat "$WORK/kubedns.log" "$WORK/nanny.log"; break; }
  sleep 0.1
done
for q in $QUERIES; do
  kind=${q%%:*}; name=${q#*:}
  echo "RESULT $kind $name: $(getent "$kind" "$name" | tr '\n' ' ')"
done
kill -TERM $nn $kd 2>/dev/null
wait
