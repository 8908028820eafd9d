#!/usr/bin/env bash
# Benchmarks gatehouse's DNS against NSD and Knot, serving the same zone
# data on loopback, each driven by dnsperf in one run, and writes the
# numbers and ratios to bench/dns/RESULTS.md.
#
# The zone data is the external view of the built-in Contoso topology: it is
# taken from gatehouse by AXFR, so NSD and Knot load exactly what gatehouse
# answers, and the script checks that all three give the same answers
# before it measures. Every server gets the same resources: 2 UDP workers,
# no response rate limiting. NSD keeps its default `reuseport: no` (with
# `yes` it measured about 20% slower here, because dnsperf's 8 flows hash
# unevenly over the sockets); Knot keeps its defaults.
#
# Usage: bench/dns/run.sh [seconds per run, default 15]
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
secs=${1:-15}

need=()
for p in nsd knot dnsperf dnsutils; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo_cmd apt-get update -qq
  # The packages' own services must not start: we run our own on loopback.
  printf '#!/bin/sh\nexit 101\n' | $sudo_cmd tee /usr/sbin/policy-rc.d >/dev/null
  $sudo_cmd chmod +x /usr/sbin/policy-rc.d
  $sudo_cmd apt-get install -y -qq --no-install-recommends "${need[@]}"
  $sudo_cmd rm -f /usr/sbin/policy-rc.d
fi

cargo build --release -q -p gatehouse-bench --bin dns_gatehouse
gh="$root/target/release/dns_gatehouse"

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

GH_PORT=15301 NSD_PORT=15302 KNOT_PORT=15303

cp examples/contoso.toml "$work/contoso.toml"
# The gateway ACL judges the port a query arrives on (as the nftables
# export does), and Contoso allows DNS on 53 only: let the benchmark's
# loopback clients reach the port it uses instead.
cat >>"$work/contoso.toml" <<TOML

[[acl]]
name = "bench-dns"
action = "allow"
from = ["127.0.0.0/8"]
ports = [$GH_PORT]
TOML
"$gh" "$work/contoso.toml" "127.0.0.1:$GH_PORT" --workers 2 --no-rrl --allow-transfer 127.0.0.1/32 \
  2>"$work/gatehouse.log" &
pids+=($!)

wait_up() { # port
  for _ in $(seq 50); do
    dig @127.0.0.1 -p "$1" +time=1 +tries=1 SOA contoso.com >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "server on port $1 did not come up" >&2; cat "$work"/*.log >&2; exit 1
}
wait_up $GH_PORT

# The zone as gatehouse serves it to 127.0.0.1 (the Internet view).
dig @127.0.0.1 -p $GH_PORT +nocmd +nostats +nocomments AXFR contoso.com | grep -v '^;' | sed '/^$/d' \
  | awk '!($4 == "SOA" && seen++)' > "$work/contoso.com.zone"
[ "$(wc -l < "$work/contoso.com.zone")" -gt 5 ] || { echo "AXFR from gatehouse failed" >&2; exit 1; }

cat > "$work/nsd.conf" <<CONF
server:
  ip-address: 127.0.0.1@$NSD_PORT
  server-count: 2
  username: ""
  zonesdir: "$work"
  database: ""
  pidfile: "$work/nsd.pid"
  xfrdfile: "$work/xfrd.state"
  zonelistfile: "$work/zone.list"
  logfile: "$work/nsd.log"
  rrl-ratelimit: 0
  verbosity: 0
remote-control:
  control-enable: no
zone:
  name: contoso.com
  zonefile: contoso.com.zone
CONF
nsd -d -c "$work/nsd.conf" 2>>"$work/nsd.log" &
pids+=($!)

mkdir -p "$work/knot"
cat > "$work/knot.conf" <<CONF
server:
  rundir: "$work/knot"
  listen: 127.0.0.1@$KNOT_PORT
  udp-workers: 2
  tcp-workers: 1
  background-workers: 1
database:
  storage: "$work/knot"
log:
  - target: stderr
    any: error
template:
  - id: default
    storage: "$work"
    file: "%s.zone"
zone:
  - domain: contoso.com
CONF
knotd -c "$work/knot.conf" 2>"$work/knot.log" &
pids+=($!)
wait_up $NSD_PORT
wait_up $KNOT_PORT

# The query mix: published names, extra records, NODATA and NXDOMAIN.
cat > "$work/queries.txt" <<Q
mail.contoso.com A
autodiscover.contoso.com A
intranet.contoso.com A
teams.contoso.com A
my.contoso.com A
partnerweb.contoso.com A
meet.contoso.com A
dial.contoso.com A
lyncdiscover.contoso.com A
wac.contoso.com A
sip.contoso.com A
av.contoso.com A
webconf.contoso.com A
webmail.contoso.com A
vpn.contoso.com A
da.contoso.com AAAA
contoso.com MX
contoso.com TXT
contoso.com SOA
contoso.com NS
_sip._tls.contoso.com SRV
_sipfederationtls._tcp.contoso.com SRV
_autodiscover._tcp.contoso.com SRV
mail.contoso.com AAAA
admin.contoso.com A
nothing.contoso.com A
Q

# Same answers from all three, or the comparison means nothing.
while read -r name type; do
  want=""
  for port in $GH_PORT $NSD_PORT $KNOT_PORT; do
    got=$(dig @127.0.0.1 -p $port +time=1 +tries=1 +norecurse "$type" "$name" | \
      awk '/status:/{s=$6} /^;; ANSWER SECTION:/{a=1;next} /^$/{a=0} a&&!/^;/{print $1,$4,$5,$6,$7,$8} END{print s}' | sort | tr '\n' '|')
    if [ -z "$want" ]; then want=$got; elif [ "$got" != "$want" ]; then
      echo "answers differ for $name $type on port $port: $got vs $want" >&2; exit 1
    fi
  done
done < "$work/queries.txt"
echo "all three servers give the same answers for $(wc -l < "$work/queries.txt") queries"

perf() { # port, extra args -> "qps avg_ms"
  dnsperf -s 127.0.0.1 -p "$1" -d "$work/queries.txt" -l "$secs" -c 8 -q 400 "${@:2}" 2>/dev/null | awk '
    /Queries per second:/ {q=$4}
    /Queries lost:/ {l=$3}
    /Average Latency/ {lat=$4*1000}
    END {printf "%.0f %.3f %s\n", q, lat, l}'
}

declare -A qps lat lost fqps flat
for s in gatehouse nsd knot; do
  case $s in gatehouse) port=$GH_PORT;; nsd) port=$NSD_PORT;; knot) port=$KNOT_PORT;; esac
  read -r qps[$s] lat[$s] lost[$s] < <(perf $port)
  read -r fqps[$s] flat[$s] _ < <(perf $port -Q 20000)
  echo "$s: ${qps[$s]} qps at saturation (avg ${lat[$s]} ms, lost ${lost[$s]}); at 20k qps avg ${flat[$s]} ms"
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.2f", a/b; else print "n/a" }'; }
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
{
  echo "# DNS benchmark: gatehouse vs NSD vs Knot"
  echo
  echo "Written by \`bench/dns/run.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'); machine: $(nproc) cores, $cpu;"
  echo "$(nsd -v 2>&1 | head -1), $(knotd --version 2>&1 | head -1), $(dnsperf -h 2>&1 | grep -m1 -o 'DNS Performance Testing Tool version [0-9.]*' || echo dnsperf)."
  echo
  echo "Same zone (the external view of examples/contoso.toml, taken from gatehouse by AXFR), same"
  echo "26-query mix (positive, CNAME, SRV with additionals, NODATA, NXDOMAIN), loopback, 2 UDP workers"
  echo "each server's default socket sharing, no RRL, dnsperf \`-c 8 -q 400 -l $secs\` on the same 2 cores."
  echo
  echo "| server | qps at saturation | avg latency at saturation | avg latency at 20k qps | qps vs NSD | qps vs Knot |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: |"
  for s in gatehouse nsd knot; do
    echo "| $s | ${qps[$s]} | ${lat[$s]} ms | ${flat[$s]} ms | $(ratio "${qps[$s]}" "${qps[nsd]}") | $(ratio "${qps[$s]}" "${qps[knot]}") |"
  done
  echo
  echo "dnsperf shares the 2 cores with the server, so absolute numbers are low; the ratios are the point."
} > bench/dns/RESULTS.md
cat bench/dns/RESULTS.md
