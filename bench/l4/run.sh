#!/usr/bin/env bash
# L4 comparison: gatehouse's TCP VIPs against HAProxy `mode tcp`, on the
# same backends, with the same load generator, one proxy at a time.
#
#   bench/l4/run.sh            # 5 s per measurement
#   SECONDS_PER_RUN=10 ROUNDS=5 bench/l4/run.sh
#
# Measures download throughput (1 and 16 connections) and the rate of
# whole connections (connect, read a banner, close; 32 workers), and prints
# a markdown table with gatehouse/HAProxy ratios. Everything runs on
# loopback; the proxies use their defaults (gatehouse: one Tokio worker
# per core; HAProxy 2.6: one thread per core). Needs haproxy
# (scripts/packages/l4.txt).
set -euo pipefail
cd "$(dirname "$0")/../.."

secs=${SECONDS_PER_RUN:-5}
base=${L4_BENCH_PORT:-24000}
command -v haproxy >/dev/null || { echo "haproxy is not installed: apt-get install haproxy" >&2; exit 1; }

# L4_BIN_DIR: use already built l4_* binaries instead of building them.
if [ -n "${L4_BIN_DIR:-}" ]; then
  bin=$L4_BIN_DIR
else
  cargo build --release -q -p gatehouse-bench --bin l4_gatehouse --bin l4_backend --bin l4_load
  bin=target/release
fi
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

wait_port() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "nothing listens on port $1" >&2; cat "$work/haproxy.log" >&2 2>/dev/null
  return 1
}

# Two members per pool: a download source and a banner ("hello") server.
src1=$((base + 1)) src2=$((base + 2)) hello1=$((base + 3)) hello2=$((base + 4))
for p in $src1 $src2; do "$bin/l4_backend" "127.0.0.1:$p" source & pids+=($!); done
for p in $hello1 $hello2; do "$bin/l4_backend" "127.0.0.1:$p" hello & pids+=($!); done
for p in $src1 $src2 $hello1 $hello2; do wait_port "$p"; done

gh_tput=$((base + 10)) gh_rate=$((base + 11)) ha_tput=$((base + 20)) ha_rate=$((base + 21))

cat >"$work/topology.toml" <<TOML
[gatehouse]
name = "l4 bench"
[zones.internet]
[services.bench]
product = "generic"
class = "exchange-client"
[pools.source]
service = "bench"
algorithm = "round-robin"
members = ["127.0.0.1:$src1", "127.0.0.1:$src2"]
health = { type = "tcp", interval = "5s" }
[pools.hello]
service = "bench"
algorithm = "round-robin"
members = ["127.0.0.1:$hello1", "127.0.0.1:$hello2"]
health = { type = "tcp", interval = "5s" }
[listeners.tput]
address = "127.0.0.1"
port = $gh_tput
protocol = "tcp"
zones = ["internet"]
pool = "source"
[listeners.rate]
address = "127.0.0.1"
port = $gh_rate
protocol = "tcp"
zones = ["internet"]
pool = "hello"
[[acl]]
action = "allow"
from = ["internet"]
protocol = "tcp"
ports = [$gh_tput, $gh_rate]
TOML

cat >"$work/haproxy.cfg" <<CFG
global
  maxconn 8000
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend tput
  bind 127.0.0.1:$ha_tput
  default_backend source
frontend rate
  bind 127.0.0.1:$ha_rate
  default_backend hello
backend source
  balance roundrobin
  server s1 127.0.0.1:$src1 check inter 5s
  server s2 127.0.0.1:$src2 check inter 5s
backend hello
  balance roundrobin
  server h1 127.0.0.1:$hello1 check inter 5s
  server h2 127.0.0.1:$hello2 check inter 5s
CFG

proxy_pid=""
start_proxy() {
  case $1 in
    gatehouse) "$bin/l4_gatehouse" "$work/topology.toml" & proxy_pid=$!; wait_port "$gh_tput"; wait_port "$gh_rate" ;;
    haproxy) haproxy -db -f "$work/haproxy.cfg" >"$work/haproxy.log" 2>&1 & proxy_pid=$!; wait_port "$ha_tput"; wait_port "$ha_rate" ;;
  esac
  sleep 0.5
}
stop_proxy() {
  kill -TERM "$proxy_pid" 2>/dev/null || true
  wait "$proxy_pid" 2>/dev/null || true
  sleep 1 # let TIME_WAIT sockets of the previous run settle
}
field() { sed -n "s/.*$1=\([0-9]*\).*/\1/p"; }
# CPU time (user + system, every thread) a process has used, in µs: unlike
# rates, it hardly moves when a neighbour is busy.
ticks=$(getconf CLK_TCK)
cpu_us() { awk -v t="$ticks" '{print int(($14 + $15) * 1000000 / t)}' "/proc/$1/stat"; }

# Rounds alternate the two proxies (and which goes first) so that a busy
# neighbour on a shared machine hurts both alike; each figure is the median
# of its rounds.
rounds=${ROUNDS:-3}
declare -A samples
record() { samples[$1]="${samples[$1]:-} $2"; }
median() { tr ' ' '\n' <<<"${samples[$1]}" | sed '/^$/d' | sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
load_before=$(cut -d' ' -f1 /proc/loadavg)
for round in $(seq "$rounds"); do
  order="gatehouse haproxy"
  [ $((round % 2)) -eq 0 ] && order="haproxy gatehouse"
  for proxy in $order; do
    if [ "$proxy" = gatehouse ]; then tput=$gh_tput rate=$gh_rate; else tput=$ha_tput rate=$ha_rate; fi
    start_proxy "$proxy"
    record "$proxy,tput1" "$("$bin/l4_load" "127.0.0.1:$tput" throughput 1 "$secs" | field mib_per_s)"
    before=$(cpu_us "$proxy_pid")
    line=$("$bin/l4_load" "127.0.0.1:$tput" throughput 16 "$secs")
    used=$(($(cpu_us "$proxy_pid") - before))
    record "$proxy,tput16" "$(echo "$line" | field mib_per_s)"
    record "$proxy,cpu_gib" "$((used * 1024 / 1000 / $(echo "$line" | field total_mib)))"
    before=$(cpu_us "$proxy_pid")
    line=$("$bin/l4_load" "127.0.0.1:$rate" connrate 32 "$secs")
    used=$(($(cpu_us "$proxy_pid") - before))
    record "$proxy,cpu_conn" "$((used / $(echo "$line" | field total_conns)))"
    record "$proxy,rate" "$(echo "$line" | field conn_per_s)"
    record "$proxy,p50" "$(echo "$line" | field p50_us)"
    record "$proxy,p99" "$(echo "$line" | field p99_us)"
    record "$proxy,errors" "$(echo "$line" | field errors)"
    record "$proxy,rss" "$(awk '/VmHWM/ {print $2}' "/proc/$proxy_pid/status")"
    stop_proxy
  done
done
record direct "$("$bin/l4_load" "127.0.0.1:$src1" throughput 16 "$secs" | field mib_per_s)"
load_after=$(cut -d' ' -f1 /proc/loadavg)
declare -A result
for k in "${!samples[@]}"; do result[$k]=$(median "$k"); done
direct=${result[direct]}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
echo
echo "L4 (TCP) gatehouse vs HAProxy $(haproxy -v | head -1 | awk '{print $3}') mode tcp — $(date -u +%Y-%m-%d), $(nproc) CPUs ($cpu), median of $rounds rounds of ${secs}s, load average $load_before before, $load_after after"
echo
echo "| measurement | gatehouse | HAProxy | gatehouse / HAProxy |"
echo "| --- | ---: | ---: | ---: |"
echo "| throughput, 1 connection (MiB/s, higher is better) | ${result[gatehouse,tput1]} | ${result[haproxy,tput1]} | $(ratio "${result[gatehouse,tput1]}" "${result[haproxy,tput1]}") |"
echo "| throughput, 16 connections (MiB/s, higher is better) | ${result[gatehouse,tput16]} | ${result[haproxy,tput16]} | $(ratio "${result[gatehouse,tput16]}" "${result[haproxy,tput16]}") |"
echo "| connection rate, 32 workers (conn/s, higher is better) | ${result[gatehouse,rate]} | ${result[haproxy,rate]} | $(ratio "${result[gatehouse,rate]}" "${result[haproxy,rate]}") |"
echo "| connection p50 (µs, lower is better) | ${result[gatehouse,p50]} | ${result[haproxy,p50]} | $(ratio "${result[gatehouse,p50]}" "${result[haproxy,p50]}") |"
echo "| connection p99 (µs, lower is better) | ${result[gatehouse,p99]} | ${result[haproxy,p99]} | $(ratio "${result[gatehouse,p99]}" "${result[haproxy,p99]}") |"
echo "| proxy CPU per connection (µs, lower is better) | ${result[gatehouse,cpu_conn]} | ${result[haproxy,cpu_conn]} | $(ratio "${result[gatehouse,cpu_conn]}" "${result[haproxy,cpu_conn]}") |"
echo "| proxy CPU per GiB, 16 connections (ms, lower is better) | ${result[gatehouse,cpu_gib]} | ${result[haproxy,cpu_gib]} | $(ratio "${result[gatehouse,cpu_gib]}" "${result[haproxy,cpu_gib]}") |"
echo "| failed connections | ${result[gatehouse,errors]} | ${result[haproxy,errors]} | |"
echo "| peak resident memory (KiB) | ${result[gatehouse,rss]} | ${result[haproxy,rss]} | $(ratio "${result[gatehouse,rss]}" "${result[haproxy,rss]}") |"
echo
echo "Direct to one backend, no proxy, 16 connections: ${direct} MiB/s."
