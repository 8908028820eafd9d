#!/usr/bin/env bash
# HTTP comparison: gatehouse's TLS-terminating reverse proxy against HAProxy
# and nginx, with equivalent configurations, in front of the same backend,
# measured with the same load generators, one proxy at a time.
#
#   bench/http/run.sh                  # 3 rounds of 10 s per measurement, writes RESULTS.md
#   SECONDS_PER_RUN=5 ROUNDS=5 bench/http/run.sh
#
# Measures, over TLS 1.3 with an ECDSA P-256 certificate:
#   - keep-alive HTTPS/1.1 requests per second and p99 latency (wrk, 50 connections);
#   - p99 latency at a fixed rate of FIXED_RATE (20,000) requests a second for every
#     proxy (bench/src/bin/http_latency.rs): wrk's p99 is each proxy's at its own
#     saturation, where the faster one also loads the shared load-generator core harder;
#   - HTTP/2 requests per second (h2load, 20 connections x 10 streams);
#   - new TLS connections per second (wrk with `Connection: close`);
#   - resident memory with 9,900 idle client connections (bench/src/bin/http_idle.rs;
#     see idle_conns below for why not 10,000).
#
# gatehouse is measured as users run it: `gatehouse run` on the topology
# below, so the runtime's pools pick the members as in production.
#
# Fairness: each proxy runs with ONE thread/worker serving clients, pinned
# to CPU 0 with all its threads (gatehouse: `--http-workers 1`, one
# connection worker with its accept loop; HAProxy: nbthread 1; nginx:
# worker_processes 1). The
# backend (bench/src/bin/http_backend.rs, a hyper server answering a static
# 128-byte page) and the load generators share CPU 1. Logging is off in all
# three. All three send the backend the same four forwarding headers
# (X-Forwarded-For, -Proto, -Host and Forwarded, which gatehouse always
# sets), keep backend connections alive and do not buffer bodies.
#
# Needs haproxy, nginx-light, wrk, nghttp2-client (h2load); installed below
# when missing (apt-get, as root).
set -euo pipefail
cd "$(dirname "$0")/../.."

secs=${SECONDS_PER_RUN:-10}
# Well below every proxy's saturation on one core, so that all three face
# the same load and the load generators' core is not the limit.
fixed_rate=${FIXED_RATE:-20000}
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
# 9,900 rather than 10,000: the hard limit of 20,000 descriptors here caps
# HAProxy (two per connection) at maxconn 9990.
idle_conns=${IDLE_CONNECTIONS:-9900}
missing=()
for tool in haproxy:haproxy nginx:nginx-light wrk:wrk h2load:nghttp2-client taskset:util-linux openssl:openssl; do
  command -v "${tool%%:*}" >/dev/null || missing+=("${tool##*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  printf '#!/bin/sh\nexit 101\n' | $sudo_cmd tee /usr/sbin/policy-rc.d >/dev/null
  $sudo_cmd chmod +x /usr/sbin/policy-rc.d
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
  $sudo_cmd rm -f /usr/sbin/policy-rc.d
fi
# 10,000 idle connections need more descriptors than the usual soft limit.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

cargo build --release -q -p gatehouse --bin gatehouse
cargo build --release -q -p gatehouse-bench --bin http_backend --bin http_idle --bin http_latency
bin=$PWD/target/release
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

wait_port() {
  for _ in $(seq 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "nothing listens on port $1" >&2
  return 1
}

backend_port=19000 gh_port=18441 ha_port=18442 ng_port=18443
host=bench.lab.test

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -keyout "$work/key.pem" -out "$work/cert.pem" -subj "/CN=$host" \
  -addext "subjectAltName=DNS:$host" 2>/dev/null
cat "$work/cert.pem" "$work/key.pem" >"$work/haproxy.pem"

taskset -c 1 env BACKEND_THREADS=1 "$bin/http_backend" "127.0.0.1:$backend_port" 2>/dev/null & pids+=($!)
wait_port $backend_port

cat >"$work/topology.toml" <<TOML
[gatehouse]
name = "http bench"
default_zone = "outside"
[zones.outside]
[zones.lab]
prefixes = ["127.0.0.0/8"]
[services.web]
product = "generic"
class = "sharepoint"
[certificates.bench]
cert = "cert.pem"
key = "key.pem"
[pools.web]
service = "web"
members = ["127.0.0.1:$backend_port"]
[listeners.https]
address = "127.0.0.1"
port = $gh_port
protocol = "https"
zones = ["lab"]
certificates = ["bench"]
[routes.bench]
listeners = ["https"]
hosts = ["$host"]
pool = "web"
[[acl]]
name = "lab"
action = "allow"
from = ["lab"]
protocol = "tcp"
TOML

cat >"$work/haproxy.cfg" <<CFG
global
  nbthread 1
  maxconn 9990
  ulimit-n 20000
  ssl-default-bind-options ssl-min-ver TLSv1.2
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout http-request 30s
  option http-keep-alive
frontend fe
  bind 127.0.0.1:$ha_port ssl crt $work/haproxy.pem alpn h2,http/1.1
  http-request set-header X-Forwarded-For %[src]
  http-request set-header X-Forwarded-Proto https
  http-request set-header X-Forwarded-Host %[req.hdr(host)]
  http-request set-header Forwarded "for=%[src];proto=https;host=%[req.hdr(host)]"
  default_backend be
backend be
  http-reuse safe
  server s1 127.0.0.1:$backend_port
CFG

mkdir -p "$work/nginx"
cat >"$work/nginx.conf" <<CFG
worker_processes 1;
worker_rlimit_nofile 19000;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 18000; }
http {
  access_log off;
  # nginx closes a connection after 1000 requests by default (HTTP/2 too),
  # which stalls h2load; HAProxy and gatehouse have no such limit.
  keepalive_requests 1000000;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  # As many idle backend connections as gatehouse keeps (idle_per_member);
  # HAProxy's pool is unbounded. With nginx's usual 64, 200 concurrent
  # HTTP/2 streams churn connections and nginx loses a fifth of its rate.
  upstream be { server 127.0.0.1:$backend_port; keepalive 1024; }
  server {
    listen 127.0.0.1:$ng_port ssl http2;
    ssl_certificate $work/cert.pem;
    ssl_certificate_key $work/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    location / {
      proxy_pass http://be;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$remote_addr;
      proxy_set_header X-Forwarded-Proto https;
      proxy_set_header X-Forwarded-Host \$host;
      proxy_set_header Forwarded "for=\$remote_addr;proto=https;host=\$host";
      proxy_buffering off;
      proxy_request_buffering off;
    }
  }
}
CFG

# Resident memory of a process and its children, in KiB.
rss_tree() {
  local total=0 p
  for p in $1 $(pgrep -P "$1" || true); do
    total=$((total + $(ps -o rss= -p "$p" 2>/dev/null || echo 0)))
  done
  echo $total
}

rounds=${ROUNDS:-3}
declare -A result samples port_of pid_of
notes=()
# Numbers only count when every answer was a 2xx from the backend.
check_wrk() {
  local bad
  bad=$(grep -E "Non-2xx|Socket errors" <<<"$2" | tr -s ' ' || true)
  [ -z "$bad" ] || notes+=("$1: $bad")
}
# p99 as printed by wrk (e.g. 1.23ms, 850.00us) -> microseconds.
us() { awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); print v} else if (v ~ /ms$/) {sub(/ms$/,"",v); print v*1000} else if (v ~ /s$/) {sub(/s$/,"",v); print v*1000000} else print v}' <<<"$1"; }
median() {
  tr ' ' '\n' <<<"$1" | sed '/^$/d' | sort -g |
    awk '{a[NR]=$1} END {if (NR==0) print "n/a"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'
}

# One measurement against one proxy.
measure() { # kind name
  local kind=$1 name=$2 url="https://127.0.0.1:${port_of[$2]}/" out
  case $kind in
    keep-alive)
      out=$(taskset -c 1 wrk -t1 -c50 -d"${secs}s" --latency -H "Host: $host" "$url")
      samples[$name,rps]+=" $(awk '/Requests\/sec/ {print $2}' <<<"$out")"
      samples[$name,p99]+=" $(us "$(awk '$1=="99%" {print $2}' <<<"$out")")"
      check_wrk "$name keep-alive" "$out" ;;
    h2)
      out=$(taskset -c 1 h2load -c20 -m10 -D "$secs" -H ":authority: $host" "$url" 2>&1)
      samples[$name,h2]+=" $(awk '/^finished in/ {print $4}' <<<"$out")"
      grep -q "status codes: [0-9]* 2xx, 0 3xx, 0 4xx, 0 5xx" <<<"$out" ||
        notes+=("$name HTTP/2: $(grep 'status codes' <<<"$out")") ;;
    close)
      out=$(taskset -c 1 wrk -t1 -c50 -d"${secs}s" -H "Host: $host" -H "Connection: close" "$url")
      samples[$name,cps]+=" $(awk '/Requests\/sec/ {print $2}' <<<"$out")"
      check_wrk "$name new connections" "$out" ;;
    fixed)
      out=$(taskset -c 1 "$bin/http_latency" "127.0.0.1:${port_of[$name]}" "$host" "$fixed_rate" "$secs")
      samples[$name,fixed]+=" $(sed -n 's/.* p99_us=\([0-9]*\).*/\1/p' <<<"$out")"
      grep -q " failed=0 " <<<"$out" || notes+=("$name fixed rate: $out") ;;
  esac
}

# Resident memory before and with many idle TLS connections.
idle_test() { # name
  local name=$1 pid=${pid_of[$1]} idle
  result[$name,rss0]=$(rss_tree "$pid")
  taskset -c 1 "$bin/http_idle" "127.0.0.1:${port_of[$name]}" "$host" "$idle_conns" 15 >"$work/idle.out" &
  idle=$!
  for _ in $(seq 600); do grep -q ready "$work/idle.out" && break; sleep 0.1; done
  result[$name,idle]=$(awk '/ready/ {print $2}' "$work/idle.out")
  result[$name,rss]=$(rss_tree "$pid")
  kill "$idle" 2>/dev/null || true
  wait "$idle" 2>/dev/null || true
}

# All three run at once (an idle proxy costs nothing); the measurements
# are interleaved and the median is reported, so that a burst of load
# from elsewhere on the machine does not land on one proxy.
taskset -c 0 "$bin/gatehouse" run --config "$work/topology.toml" --http-workers 1 --log-level warn,rustls=error 2>"$work/gatehouse.log" &
pid_of[gatehouse]=$!; pids+=($!); port_of[gatehouse]=$gh_port
taskset -c 0 haproxy -db -f "$work/haproxy.cfg" 2>"$work/haproxy.log" &
pid_of[haproxy]=$!; pids+=($!); port_of[haproxy]=$ha_port
taskset -c 0 nginx -p "$work/nginx" -c "$work/nginx.conf" 2>"$work/nginx.log" &
pid_of[nginx]=$!; pids+=($!); port_of[nginx]=$ng_port
proxies=(gatehouse haproxy nginx)
for name in "${proxies[@]}"; do
  wait_port "${port_of[$name]}"
  taskset -c 1 wrk -t1 -c50 -d2s -H "Host: $host" "https://127.0.0.1:${port_of[$name]}/" >/dev/null 2>&1 || true
done
# Each measurement runs against the three proxies back to back, in the
# opposite order every other round, so that the proxies compared are
# measured seconds apart and a drift in the machine's speed favours none.
for round in $(seq "$rounds"); do
  order=("${proxies[@]}")
  [ $((round % 2)) -eq 0 ] && order=(nginx haproxy gatehouse)
  for kind in keep-alive h2 close fixed; do
    for name in "${order[@]}"; do
      measure "$kind" "$name"
    done
  done
done
raw=()
for name in "${proxies[@]}"; do
  raw+=("- $name: keep-alive req/s${samples[$name,rps]}; p99 µs${samples[$name,p99]}; HTTP/2 req/s${samples[$name,h2]}; new TLS conn/s${samples[$name,cps]}; p99 µs at $fixed_rate req/s${samples[$name,fixed]}")
  echo "${raw[-1]}" >&2
done
for name in "${proxies[@]}"; do
  for key in rps p99 h2 cps fixed; do result[$name,$key]=$(median "${samples[$name,$key]}"); done
  idle_test "$name"
  echo "$name: RSS ${result[$name,rss0]} KiB -> ${result[$name,rss]} KiB with ${result[$name,idle]} idle connections" >&2
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

# The median of the rounds' own gatehouse / HAProxy ratios: each pair was
# measured seconds apart, so this is steadier than the ratio of medians
# when the machine's speed drifts.
paired() { # key
  local g h r="" i
  read -ra g <<<"${samples[gatehouse,$1]:-}"
  read -ra h <<<"${samples[haproxy,$1]:-}"
  for i in "${!g[@]}"; do r+=" $(ratio "${g[$i]}" "${h[$i]:-0}")"; done
  [ -n "$r" ] && median "$r" | awk '{printf "%.2f", $1}' || echo "—"
}

row() { # label key
  local g=${result[gatehouse,$2]} h=${result[haproxy,$2]} n=${result[nginx,$2]}
  echo "| $1 | $g | $h | $n | $(ratio "$g" "$h") | $(paired "$2") | $(ratio "$g" "$n") |"
}

table=$(cat <<MD
| measurement | gatehouse | HAProxy | nginx | gatehouse / HAProxy | gatehouse / HAProxy, median of rounds | gatehouse / nginx |
| --- | --- | --- | --- | --- | --- | --- |
$(row "keep-alive HTTPS/1.1 req/s (wrk, 50 conns)" rps)
$(row "keep-alive p99 latency at saturation, µs (wrk; lower is better)" p99)
$(row "p99 latency at $fixed_rate req/s, µs (http_latency, 50 conns; lower is better)" fixed)
$(row "HTTP/2 req/s (h2load, 20 conns x 10 streams)" h2)
$(row "new TLS connections/s (wrk, Connection: close)" cps)
$(row "RSS before idle test, KiB" rss0)
$(row "RSS with $idle_conns idle TLS connections, KiB" rss)
MD
)
echo "$table"

{
  echo "# HTTP benchmark results"
  echo
  echo "Produced by \`bench/http/run.sh\` (see its header for what is measured and how)."
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "- machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/ {print $2}') GiB"
  echo "- versions: $(haproxy -v | head -1 | cut -d' ' -f1-3); $(nginx -v 2>&1 | cut -d' ' -f3); $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2); h2load $(h2load --version | awk '{print $2}')"
  echo "- each proxy: one thread on CPU 0; backend and load generators on CPU 1; ${secs} s per run;" \
    "median of $rounds interleaved rounds; load average before/after: $load_before / $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- idle connections established: gatehouse ${result[gatehouse,idle]}, HAProxy ${result[haproxy,idle]}, nginx ${result[nginx,idle]}"
  echo
  echo "$table"
  echo
  echo "Every round, in order (the spread shows how much load from elsewhere there was):"
  echo
  for r in "${raw[@]}"; do echo "$r"; done
  if [ ${#notes[@]} -gt 0 ]; then
    echo
    echo "Errors seen by the load generators (these runs' numbers are suspect):"
    for n in "${notes[@]}"; do echo "- $n"; done
  fi
} >bench/http/RESULTS.md.new
if [ -f bench/http/NOTES.md ]; then
  { echo; cat bench/http/NOTES.md; } >>bench/http/RESULTS.md.new
fi
mv bench/http/RESULTS.md.new bench/http/RESULTS.md
echo "wrote bench/http/RESULTS.md" >&2
