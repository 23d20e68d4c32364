#!/bin/sh
# tests/bench/cluster.sh: fanout across two servers sharing Redis (siogate.conf(5) [cluster]).
# The same siogate-bench fanout run (clients in the room "bench", one driver
# emitting "broadcast", a closed loop of --inflight broadcasts) against:
#   siogate-1     one siogate gateway with every client (no Redis)
#   siogate-2     two siogate gateways with --cluster on one redis-server, half
#                 the client processes on each (siogate-bench --url2), a
#                 bench_worker on each
#   node-2        two Node socket.io servers (node_server.mjs --redis) with
#                 @socket.io/redis-adapter on the same kind of redis-server
# Figures: messages delivered per CPU-second of everything serving them
# (gateways or servers, workers, redis-server) and the p99 latency.
#
#   tests/bench/cluster.sh
#   BENCH_CLIENTS=4000 BENCH_DURATION=10 tests/bench/cluster.sh
#
# Knobs: BENCH_CLIENTS (2000), BENCH_DURATION (10), BENCH_WARMUP (2),
# BENCH_PAYLOAD (100), BENCH_INFLIGHT (4), BENCH_PROCS (4, even),
# BENCH_SERVERS ("siogate-1 siogate-2 node-2"), BENCH_UNORDERED (1: bench_worker -u,
# the driver socket's events need not wait for each other), BENCH_BUILD, BENCH_OUT
# (as in run.sh).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
. "$here/lib.sh"

INFLIGHT=${BENCH_INFLIGHT:-4}
PROCS=${BENCH_PROCS:-4}
SERVERS=${BENCH_SERVERS:-siogate-1 siogate-2 node-2}
REDIS=${REDIS_SERVER:-/usr/bin/redis-server}

say() { echo "cluster.sh: $*" >&2; }

case " $SERVERS " in *" node-2 "*) bench_setup @socket.io/redis-adapter siogate-cluster-bench ;; *) bench_setup "" siogate-cluster-bench ;; esac

PIDS=""
cleanup() {
	# shellcheck disable=SC2086
	[ -n "$PIDS" ] && kill $PIDS 2>/dev/null || true
	for p in $PIDS; do wait "$p" 2>/dev/null || true; done
	PIDS=""
}
trap 'cleanup; exit 130' INT TERM

# gateway TAG [--cluster URL]: a siogate gateway and its bench_worker; sets GW_PID WK_PID GW_PORT.
gateway() {
	tag=$1
	shift
	free_port >/dev/null; GW_PORT=$p
	sock=$OUT/bridge-$tag.sock
	"$SIOGATE" --listen "127.0.0.1:$GW_PORT" --bridge "ipc://$sock" --log-level warn \
		--max-connections-per-ip 0 --handshake-rate 0 "$@" 2>"$OUT/siogate-$tag.log" &
	GW_PID=$!
	"$WORKER" ${BENCH_UNORDERED:+-u} -e "ipc://$sock" 2>"$OUT/worker-$tag.log" &
	WK_PID=$!
	PIDS="$PIDS $GW_PID $WK_PID"
	wait_for "$OUT/worker-$tag.log" "registered with gateway" 10 || { say "siogate $tag did not start"; return 1; }
}

# node TAG: a Node server with the Redis adapter; sets ND_PID ND_PORT.
node_srv() {
	free_port >/dev/null; ND_PORT=$p
	node "$here/node_server.mjs" --port "$ND_PORT" --redis "redis://127.0.0.1:$RPORT" \
		2>"$OUT/node-$1.log" &
	ND_PID=$!
	PIDS="$PIDS $ND_PID"
	wait_for "$OUT/node-$1.log" "listening on" 10 || { say "node $1 did not start"; return 1; }
}

redis() {
	free_port >/dev/null; RPORT=$p
	"$REDIS" --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no >"$OUT/redis.log" 2>&1 &
	R_PID=$!
	PIDS="$PIDS $R_PID"
	wait_for "$OUT/redis.log" "Ready to accept connections" 10 || { say "redis-server did not start"; return 1; }
}

bench() {
	label=$1
	shift
	say "$label: $CLIENTS clients, $DURATION s"
	"$BENCH" fanout --clients "$CLIENTS" --duration "$DURATION" --warmup "$WARMUP" \
		--payload "$PAYLOAD" --inflight "$INFLIGHT" --procs "$PROCS" --label "$label" "$@" \
		>>"$RESULTS" 2>"$OUT/bench-$label.log" || say "$label: siogate-bench failed (see $OUT/bench-$label.log)"
}

for s in $SERVERS; do
	case $s in
	siogate-1)
		gateway a
		bench siogate-1 --url "http://127.0.0.1:$GW_PORT" --server-pid "$GW_PID" --worker-pid "$WK_PID"
		;;
	siogate-2)
		redis
		gateway a --gateway-id BnA1 --cluster "redis://127.0.0.1:$RPORT"
		A_PORT=$GW_PORT A_PID=$GW_PID A_WK=$WK_PID
		gateway b --gateway-id BnB1 --cluster "redis://127.0.0.1:$RPORT"
		bench siogate-2 --url "http://127.0.0.1:$A_PORT" --url2 "http://127.0.0.1:$GW_PORT" \
			--server-pid "$A_PID" --worker-pid "$GW_PID" --worker-pid "$A_WK" \
			--worker-pid "$WK_PID" --worker-pid "$R_PID"
		;;
	node-2)
		redis
		node_srv a
		A_PORT=$ND_PORT A_PID=$ND_PID
		node_srv b
		bench node-2 --url "http://127.0.0.1:$A_PORT" --url2 "http://127.0.0.1:$ND_PORT" \
			--server-pid "$A_PID" --worker-pid "$ND_PID" --worker-pid "$R_PID"
		;;
	*) say "unknown server set $s"; exit 64 ;;
	esac
	cleanup
done

python3 - "$RESULTS" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print("%-10s %8s %12s %14s %9s %9s %6s" % ("servers", "clients", "msg/s", "msg/CPU-s", "CPU util",
                                            "p99 ms", "lost"))
for r in rows:
    print("%-10s %8d %12.0f %14s %9.2f %9.2f %6d" % (
        r["server"], r["clients"], r["throughput"],
        "%.0f" % r["per_cpu_second"] if r.get("per_cpu_second") else "-",
        r.get("server_cpu_util") or 0, r.get("lat_p99_ms") or 0, r.get("lost", 0)))
print("(CPU: gateways or servers + workers + redis-server; msg = one broadcast delivered to one client)")
EOF
say "results in $OUT"
