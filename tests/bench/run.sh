#!/bin/sh
# tests/bench/run.sh: benchmark siogate (with tests/bench/bench_worker) against the Node.js
# reference server (npm socket.io, tests/bench/node_server.mjs) with tests/bench/siogate-bench,
# and print a table of the figures, the ratios and the targets.  See tests/bench/README.md.
#
#   tests/bench/run.sh                       # defaults: finishes in a few minutes on 2 cores
#   BENCH_CLIENTS=10000 BENCH_DURATION=10 tests/bench/run.sh
#
# Knobs (environment):
#   BENCH_CLIENTS=2000        clients of fanout, fanout-rate, idle, idle-polling
#   BENCH_DURATION=10         measured seconds of fanout, fanout-rate, echo, connect-rate
#   BENCH_WARMUP=2            seconds of load before measuring
#   BENCH_FANOUT_RATE=100000  messages/s offered in fanout-rate (the latency target's load)
#   BENCH_ECHO_CLIENTS=100    clients of echo (closed loop, BENCH_ECHO_INFLIGHT=1 each)
#   BENCH_ECHO_RATE=10000     acks/s offered in echo-rate (same clients, open loop)
#   BENCH_CONNECT_SLOTS=64    connections being set up at once in connect-rate
#   BENCH_PAYLOAD=100         bytes of the event argument
#   BENCH_IDLE_HOLD=25        seconds idle clients are held (pings answered meanwhile)
#   BENCH_PING_INTERVAL=10000 BENCH_PING_TIMEOUT=5000   both servers get these
#   BENCH_MAX_CLIENTS=        clients of idle-max (default: the open-file hard limit - 250)
#   BENCH_SCENARIOS="fanout fanout-rate echo echo-rate connect-rate idle idle-polling idle-max"
#                             (also: fanout-polling echo-polling)
#   BENCH_SERVERS="siogate node"
#   BENCH_THREADS=1           siogate's event loops (--threads; the worker connects to each)
#   BENCH_UNORDERED=          1: bench_worker -u (HELLO "ordered": false: a socket's events
#                             do not wait for the previous one's credit)
#   BENCH_BUILD=DIR           the configured build directory (default: build/, else the
#                             source tree if configured there, else configure into build/)
#   BENCH_OUT=DIR             where the JSON lines, logs and the table go (default: a new
#                             folder under /tmp)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/lib.sh"

FANOUT_RATE=${BENCH_FANOUT_RATE:-100000}
ECHO_CLIENTS=${BENCH_ECHO_CLIENTS:-100}
ECHO_INFLIGHT=${BENCH_ECHO_INFLIGHT:-1}
ECHO_RATE=${BENCH_ECHO_RATE:-10000}
CONNECT_SLOTS=${BENCH_CONNECT_SLOTS:-64}
IDLE_HOLD=${BENCH_IDLE_HOLD:-25}
PING_INTERVAL=${BENCH_PING_INTERVAL:-10000}
PING_TIMEOUT=${BENCH_PING_TIMEOUT:-5000}
SCENARIOS=${BENCH_SCENARIOS:-fanout fanout-rate echo echo-rate connect-rate idle idle-polling idle-max}
SERVERS=${BENCH_SERVERS:-siogate node}
THREADS=${BENCH_THREADS:-1}

say() { echo "run.sh: $*" >&2; }

# ---- build, ports ----
case " $SERVERS " in *" node "*) bench_setup socket.io siogate-bench ;; *) bench_setup "" siogate-bench ;; esac
MAX_CLIENTS=${BENCH_MAX_CLIENTS:-$(($(ulimit -n) - 250))}
NOTES=$OUT/notes.txt
: >"$NOTES"

SERVER_PID="" WORKER_PID="" PORT=""
# start_server NAME TAG: start siogate + bench_worker, or the Node server.
start_server() {
	PORT=$(free_port)
	log=$OUT/$1-$2.log
	if [ "$1" = siogate ]; then
		sock=$OUT/bridge-$2.sock
		# All clients come from 127.0.0.1-16: no per-IP limits (the defaults, said anyway).
		"$SIOGATE" --listen "127.0.0.1:$PORT" --bridge "ipc://$sock" --log-level warn \
			--ping-interval "$PING_INTERVAL" --ping-timeout "$PING_TIMEOUT" \
			--max-connections-per-ip 0 --handshake-rate 0 --threads "$THREADS" 2>"$log" &
		SERVER_PID=$!
		"$WORKER" ${BENCH_UNORDERED:+-u} -e "ipc://$sock" 2>"$OUT/worker-$2.log" &
		WORKER_PID=$!
		wait_for "$OUT/worker-$2.log" "registered with gateway" 10 || {
			say "siogate/bench_worker did not start (see $log)"
			return 1
		}
		# With several loops the worker registers on each (it learns of them in WELCOME).
		i=0
		while [ "$(grep -c "registered with gateway" "$OUT/worker-$2.log")" -lt "$THREADS" ]; do
			i=$((i + 1))
			[ "$i" -gt 200 ] && { say "bench_worker did not register on every loop"; return 1; }
			sleep 0.05
		done
	else
		node "$here/node_server.mjs" --port "$PORT" --ping-interval "$PING_INTERVAL" \
			--ping-timeout "$PING_TIMEOUT" 2>"$log" &
		SERVER_PID=$!
		WORKER_PID=""
		wait_for "$log" "listening on" 10 || {
			say "the Node server did not start (see $log)"
			return 1
		}
	fi
}

# stop_server NAME TAG: stop it; note a crash or log warnings.
stop_server() {
	if ! kill -0 "$SERVER_PID" 2>/dev/null; then
		echo "$1 $2: THE SERVER DIED during the run (see $OUT/$1-$2.log)" | tee -a "$NOTES" >&2
	else
		kill "$SERVER_PID" 2>/dev/null || true
	fi
	wait "$SERVER_PID" 2>/dev/null || true
	# The worker goes after the gateway, so that its BYE is no warning.
	if [ -n "$WORKER_PID" ]; then
		kill "$WORKER_PID" 2>/dev/null || true
		wait "$WORKER_PID" 2>/dev/null || true
	fi
	if [ "$1" = siogate ]; then
		rm -f "$OUT/bridge-$2.sock"
		n=$(grep -c '^<[34]>' "$OUT/$1-$2.log" 2>/dev/null || true)
		if [ "${n:-0}" -gt 0 ]; then
			echo "$1 $2: $n warning/error line(s) in the gateway log, first: $(grep -m1 '^<[34]>' "$OUT/$1-$2.log")" |
				tee -a "$NOTES" >&2
		fi
		grep -h "failed calls [1-9]" "$OUT/worker-$2.log" 2>/dev/null | sed "s/^/$1 $2: /" | tee -a "$NOTES" >&2 || true
	fi
	SERVER_PID="" WORKER_PID=""
}

trap '[ -n "$SERVER_PID" ] && kill $SERVER_PID $WORKER_PID 2>/dev/null; exit 130' INT TERM

# run_one NAME SCENARIO: one scenario against a fresh server.
run_one() {
	name=$1 sc=$2
	case $sc in
	fanout) args="fanout --clients $CLIENTS --duration $DURATION --warmup $WARMUP" ;;
	fanout-rate) args="fanout --clients $CLIENTS --duration $DURATION --warmup $WARMUP --rate $FANOUT_RATE" ;;
	fanout-polling) args="fanout --transport polling --clients $CLIENTS --duration $DURATION --warmup $WARMUP" ;;
	echo) args="echo --clients $ECHO_CLIENTS --inflight $ECHO_INFLIGHT --duration $DURATION --warmup $WARMUP" ;;
	echo-rate) args="echo --clients $ECHO_CLIENTS --rate $ECHO_RATE --duration $DURATION --warmup $WARMUP" ;;
	echo-polling) args="echo --transport polling --clients $ECHO_CLIENTS --duration $DURATION --warmup $WARMUP" ;;
	connect-rate) args="connect-rate --clients $CONNECT_SLOTS --duration $DURATION --warmup $WARMUP" ;;
	idle) args="idle --clients $CLIENTS --duration $IDLE_HOLD" ;;
	idle-polling) args="idle --transport polling --clients $CLIENTS --duration $IDLE_HOLD" ;;
	idle-max) args="idle --clients $MAX_CLIENTS --duration $IDLE_HOLD" ;;
	*) say "unknown scenario $sc"; return 1 ;;
	esac
	start_server "$name" "$sc" || return 0
	wpid=""
	[ -n "$WORKER_PID" ] && wpid="--worker-pid $WORKER_PID"
	say "$name: $sc"
	# shellcheck disable=SC2086
	if "$BENCH" $args --payload "$PAYLOAD" --url "http://127.0.0.1:$PORT" --label "$name" \
		--server-pid "$SERVER_PID" $wpid >"$OUT/$name-$sc.json" 2>"$OUT/$name-$sc.bench.log"; then :; else
		echo "$name $sc: siogate-bench exited with status $? (see $OUT/$name-$sc.bench.log)" |
			tee -a "$NOTES" >&2
	fi
	grep -v '^{' "$OUT/$name-$sc.bench.log" | sed 's/^/    /' >&2 || true
	if grep -q '^{' "$OUT/$name-$sc.json"; then
		sed "s/^{/{\"name\":\"$sc\",/" "$OUT/$name-$sc.json" >>"$RESULTS"
	fi
	stop_server "$name" "$sc"
}

for name in $SERVERS; do
	for sc in $SCENARIOS; do
		run_one "$name" "$sc"
	done
done

# ---- report ----
sio_version=$("$SIOGATE" --version 2>&1 | head -1)
node_version=$(node --version 2>/dev/null || echo none)
sio_node_version=$(node -p 'require(process.argv[1] + "/node_modules/socket.io/package.json").version' "$here" 2>/dev/null || echo none)
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
mem=$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
python3 - "$RESULTS" "$NOTES" <<EOF | tee "$OUT/table.txt"
import json, sys
rows = {}
for line in open(sys.argv[1]):
    d = json.loads(line)
    rows[(d["server"], d["name"])] = d
def g(server, name, key):
    d = rows.get((server, name))
    return None if d is None else d.get(key)
def f(v, unit=""):
    if v is None: return "-"
    if isinstance(v, float) and v >= 1000: return "{:,.0f}{}".format(v, unit)
    if isinstance(v, (int, float)): return "{:.3g}{}".format(v, unit) if isinstance(v, float) else "{}{}".format(v, unit)
    return str(v)
print("siogate benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')")
print("machine: $(nproc) CPU(s), $cpu, $mem; open files: $(ulimit -n)")
print("versions: $sio_version; node $node_version; socket.io $sio_node_version; siogate threads: $THREADS")
print("settings: clients $CLIENTS (idle-max $MAX_CLIENTS), fanout-rate $FANOUT_RATE msg/s, "
      "echo clients $ECHO_CLIENTS (echo-rate $ECHO_RATE acks/s), connect slots $CONNECT_SLOTS, "
      "payload $PAYLOAD B, duration $DURATION s (warm-up $WARMUP s), idle hold $IDLE_HOLD s, "
      "ping $PING_INTERVAL/$PING_TIMEOUT ms")
print()
# (label, scenario, key, unit, better, target text, target check on (sio, node))
checks = [
    ("fanout msg per CPU-s, 4 in flight", "fanout", "per_cpu_second", "", "high", ">= 8x node",
     lambda s, n: s / n >= 8),
    ("fanout msg per CPU-s, offered rate", "fanout-rate", "per_cpu_second", "", "high",
     ">= 8x node", lambda s, n: s / n >= 8),
    ("fanout p99 at offered rate (ms)", "fanout-rate", "lat_p99_ms", "", "low", "< 20 ms",
     lambda s, n: s < 20),
    ("echo acks per CPU-s", "echo", "per_cpu_second", "", "high", ">= 2x node",
     lambda s, n: s / n >= 2),
    ("echo p99, closed loop (ms)", "echo", "lat_p99_ms", "", "low", "< 5 ms", lambda s, n: s < 5),
    ("echo p99 at offered rate (ms)", "echo-rate", "lat_p99_ms", "", "low", "< 5 ms",
     lambda s, n: s < 5),
    ("connects per CPU-s", "connect-rate", "per_cpu_second", "", "high", ">= 4x node",
     lambda s, n: s / n >= 4),
    ("RSS per idle WS client (KB)", "idle", "rss_per_client_kb", "", "low", "<= 4 KB",
     lambda s, n: s <= 4),
    ("RSS per idle polling client (KB)", "idle-polling", "rss_per_client_kb", "", "low", "<= 8 KB",
     lambda s, n: s <= 8),
    ("fanout polling msg per CPU-s", "fanout-polling", "per_cpu_second", "", "high", "-", None),
    ("echo polling acks per CPU-s", "echo-polling", "per_cpu_second", "", "high", "-", None),
]
hdr = "| {:<34} | {:>12} | {:>12} | {:>8} | {:>12} | {:<5} |"
print(hdr.format("scenario", "siogate", "node", "ratio", "target", "met?"))
print("|" + "-" * 36 + "|" + "-" * 14 + "|" + "-" * 14 + "|" + "-" * 10 + "|" + "-" * 14 + "|" + "-" * 7 + "|")
for label, name, key, unit, better, target, ok in checks:
    s, n = g("siogate", name, key), g("node", name, key)
    if s is None and n is None: continue
    ratio = "-"
    if s is not None and n is not None and s > 0 and n > 0:
        ratio = "{:.2f}x".format(s / n if better == "high" else n / s)
    met = "-"
    if ok is not None and s is not None and (n is not None or "node" not in target):
        try: met = "yes" if ok(s, n) else "NO"
        except (ZeroDivisionError, TypeError): met = "?"
        d = rows.get(("siogate", name))
        if d and (d.get("lost") or d.get("disconnects") or d.get("stalled")): met += " (lost!)"
    print(hdr.format(label, f(s), f(n), ratio, target, met))
m = rows.get(("siogate", "idle-max"))
if m is not None:
    nm = rows.get(("node", "idle-max"))
    def mx(d):
        return "-" if d is None else "{}/{} {}".format(d["clients"], d["clients_requested"],
            "ok" if d["pings_missed"] == 0 and d["disconnects"] == 0 else "missed {}".format(d["pings_missed"]))
    print(hdr.format("clients at fd limit, pings on time", mx(m)[:12], mx(nm)[:12], "-",
        "all, 0 missed", "yes" if m["clients"] == m["clients_requested"] and m["pings_missed"] == 0
        and m["disconnects"] == 0 else "NO"))
print()
print("absolute figures (per run):")
ah = "{:<8} {:<14} {:>6} {:>12} {:<10} {:>8} {:>8} {:>8} {:>7} {:>6} {:>7} {:>7} {:>6} {:>8} {:>5}"
print(ah.format("server", "scenario", "clnts", "throughput", "unit", "p50 ms", "p99 ms", "max ms",
      "cpu s", "util", "of wrk", "bench", "lost", "rss KB/c", "disc"))
for (server, name), d in sorted(rows.items(), key=lambda kv: (kv[0][1], kv[0][0] != "siogate")):
    print(ah.format(server, name, d["clients"], f(d["throughput"]), d["unit"],
        f(d["lat_p50_ms"]), f(d["lat_p99_ms"]), f(d["lat_max_ms"]), f(d.get("server_cpu_s")),
        f(d.get("server_cpu_util")), f(d.get("worker_cpu_s")), f(d.get("bench_cpu_s")),
        d["lost"], f(d.get("rss_per_client_kb")), d["disconnects"]))
    if name.startswith("idle"):
        print("{:<8} {:<14} pings {} missed {} late {} largest gap {} ms (interval {} ms)".format(
            "", "", d.get("pings"), d.get("pings_missed"), d.get("pings_late"),
            d.get("ping_gap_max_ms"), d.get("ping_interval_ms")))
notes = open(sys.argv[2]).read().strip()
if notes:
    print()
    print("notes:")
    print(notes)
EOF
say "results: $OUT (results.jsonl, table.txt, logs)"
