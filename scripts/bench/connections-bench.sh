# shellcheck shell=bash
# Connections section of scripts/bench/run (sourced by it): the service as
# shipped (server a) with REDUCE_MEMORY_USAGE=false and =true, its RSS while
# it holds 0, 1,024 and MAX_CONNS idle keep-alive connections, and its
# requests/s and p99 under wrk (GET /) at each of CONNS connections.
# Uses from run: BIN WORK RAW ROUNDS DURATION CONNS NICE PIDS die stop_pid
# proc_kib, start_server, stop_server and wrk_run from server-bench.sh, and
# log from scripts/lib/daemon.sh.
# shellcheck disable=SC2153 # CONNS and the others are run's

# hold_and_measure ROUND REDUCE N MAX: a fresh server a with
# REDUCE_MEMORY_USAGE=REDUCE; holdconns (on CPU 1) opens N keep-alive
# connections, each answered once, and holds them idle; the server's VmRSS
# and VmHWM then go to RAW.
hold_and_measure() {
	local round="$1" reduce="$2" n="$3" max="$4" port=18180 ready hold_pid fds
	start_server a "$port" REDUCE_MEMORY_USAGE="$reduce"
	rm -f "$WORK/hold.fifo"
	mkfifo "$WORK/hold.fifo"
	"${NICE[@]}" taskset -c 1 "$BIN/holdconns" -addr "127.0.0.1:$port" -n "$n" \
		>"$WORK/hold.fifo" 2>>"$WORK/holdconns.err" &
	hold_pid=$!
	PIDS+=("$hold_pid")
	# Its one line says every connection has been answered and has settled.
	read -r ready <"$WORK/hold.fifo" || true
	rm -f "$WORK/hold.fifo"
	[ -n "$ready" ] || {
		cat "$WORK/holdconns.err" >&2
		die "holdconns could not open $n connections (REDUCE_MEMORY_USAGE=$reduce)"
	}
	fds="$(find "/proc/$SRV_PID/fd" -mindepth 1 -maxdepth 1 | wc -l)"
	((fds >= n)) || die "the server holds $fds descriptors, fewer than the $n connections"
	jq -nc --argjson round "$round" --argjson rmu "$reduce" --argjson conns "$n" --argjson max "$max" \
		--argjson rss "$(proc_kib "$SRV_PID" VmRSS)" --argjson hwm "$(proc_kib "$SRV_PID" VmHWM)" \
		--argjson fds "$fds" --argjson ready "$ready" \
		'{section: "connections_rss", round: $round, reduce_memory_usage: $rmu, conns: $conns, max_conns: $max,
      vmrss_kib: $rss, vmhwm_kib: $hwm, server_fds: $fds, open_ms: $ready.open_ms}' >>"$RAW"
	tail -n1 "$RAW" | jq -r '"  round \(.round) REDUCE_MEMORY_USAGE=\(.reduce_memory_usage) \(.conns) idle connections: RSS \(.vmrss_kib) KiB"' >&2
	stop_pid "$hold_pid"
	stop_server
}

bench_connections() {
	local max round i reduce n port=18181 values=(false true)
	# MAX_CONNS as the service ships it: its default, from `server help`.
	max="$("$BIN/server" help | awk '$1 == "MAX_CONNS" { print $2 }')"
	[[ "$max" =~ ^[1-9][0-9]*$ ]] || die "cannot read MAX_CONNS's default from 'server help'"
	# The server and holdconns each need a descriptor per connection; Go
	# raises its soft limit to the hard one, which root can raise.
	if (($(ulimit -Hn) < max + 512)); then
		ulimit -n $((max + 512)) 2>/dev/null || die "needs RLIMIT_NOFILE of $((max + 512)) (hard limit $(ulimit -Hn)); run as root or raise it"
	fi
	IFS=, read -r -a conns_list <<<"$CONNS"
	log "connections: $ROUNDS rounds x REDUCE_MEMORY_USAGE false/true x (RSS at 0, 1024, $max idle connections; wrk GET / at ${CONNS} connections x ${DURATION}s)"
	for ((round = 1; round <= ROUNDS; round++)); do
		for ((i = 0; i < 2; i++)); do
			# Alternate which value goes first.
			reduce="${values[$(((i + round - 1) % 2))]}"
			for n in 0 1024 "$max"; do
				hold_and_measure "$round" "$reduce" "$n" "$max"
			done
			start_server a "$port" REDUCE_MEMORY_USAGE="$reduce"
			"${NICE[@]}" taskset -c 1 wrk -t1 -c"${conns_list[-1]}" -d1s "http://127.0.0.1:$port/" >/dev/null
			for n in "${conns_list[@]}"; do
				wrk_run "$port" "$n" / "(round $round, REDUCE_MEMORY_USAGE=$reduce)" \
					"$(jq -nc --argjson round "$round" --argjson rmu "$reduce" --argjson conns "$n" \
						'{section: "connections_rps", round: $round, server: "a", reduce_memory_usage: $rmu, conns: $conns, path: "/"}')"
			done
			stop_server
		done
	done
}
