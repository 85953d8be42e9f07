# shellcheck shell=bash
# Service, startup and profile sections of scripts/bench/run (sourced by it):
# the servers under wrk, exec to first answer, and pprof under load.
# Uses from run: ROOT BENCH BIN WORK RAW ROUNDS DURATION CONNS STARTS NICE
# CLK_TCK SERVER_DIR MODULE FIBER_CACHE_DIR PIDS want die on_exit track_wait stop_pid
# cpu_ticks cpu_sample busy_pct proc_kib, and log from scripts/lib/daemon.sh;
# sets SRV_PID.
# shellcheck disable=SC2153 # CONNS and the others are run's

# --- servers -------------------------------------------------------------------------
SRV_PID=
# start_server ID PORT [KEY=VALUE...]: starts server ID pinned to CPU 0 (the
# service, a, b and e, with the settings given), sets SRV_PID, waits for 200.
start_server() {
	local id="$1" port="$2" i
	shift 2
	case "$id" in
	a | b | e)
		# stdout goes through a pipe drained by cat (also on CPU 0), as a
		# container runtime would read it.
		rm -f "$WORK/log.fifo"
		mkfifo "$WORK/log.fifo"
		"${NICE[@]}" taskset -c 0 cat "$WORK/log.fifo" >/dev/null &
		PIDS+=("$!")
		local access=true metrics=
		[ "$id" = b ] && access=false
		[ "$id" = e ] && metrics="127.0.0.1:$((port + 100))"
		env PORT="$port" HOST=127.0.0.1 ACCESS_LOG="$access" METRICS_ADDR="$metrics" "$@" \
			"${NICE[@]}" taskset -c 0 "$BIN/server" >"$WORK/log.fifo" 2>>"$WORK/server-$id.err" &
		;;
	c) env PORT="$port" "${NICE[@]}" taskset -c 0 "$BIN/fiberminimal" >/dev/null 2>>"$WORK/server-$id.err" & ;;
	d) env PORT="$port" "${NICE[@]}" taskset -c 0 "$BIN/nethttp" >/dev/null 2>>"$WORK/server-$id.err" & ;;
	esac
	SRV_PID=$!
	PIDS+=("$SRV_PID")
	for ((i = 0; i < 200; i++)); do
		curl -fsS -o /dev/null "http://127.0.0.1:$port/health" 2>/dev/null && return 0
		kill -0 "$SRV_PID" 2>/dev/null || break
		sleep 0.05
	done
	cat "$WORK/server-$id.err" >&2 || true
	die "server ($id) did not come up on port $port"
}
stop_server() {
	stop_all
	rm -f "$WORK/log.fifo"
}

# wrk_run PORT CONNS PATH LABEL HEAD: one wrk run of DURATION s against the
# server SRV_PID on PORT (wrk on CPU 1); appends to RAW the JSON object HEAD
# (section and what was measured) with wrk's figures and the CPU both used,
# and prints a progress line starting with LABEL.
wrk_run() {
	local port="$1" conns="$2" path="$3" label="$4" head="$5" t0 t1 s0 s1 out line
	t0="$(cpu_ticks "$SRV_PID")"
	s0="$(cpu_sample)"
	out="$("${NICE[@]}" taskset -c 1 wrk -t1 -c"$conns" -d"${DURATION}s" --latency \
		-s "$BENCH/report.lua" "http://127.0.0.1:$port$path")"
	t1="$(cpu_ticks "$SRV_PID")"
	s1="$(cpu_sample)"
	line="$(tail -n1 <<<"$out")"
	jq -c --argjson head "$head" --argjson ticks "$((t1 - t0))" --argjson clk "$CLK_TCK" \
		--argjson cpu0 "$(busy_pct "$s0" "$s1" 0)" --argjson cpu1 "$(busy_pct "$s0" "$s1" 1)" \
		'$head + . + {cpu_ticks: $ticks, clk_tck: $clk, cpu0_busy_pct: $cpu0, cpu1_busy_pct: $cpu1}' <<<"$line" >>"$RAW"
	printf '  %s %4d conns %-7s %s\n' "$label" "$conns" "$path" \
		"$(jq -r '"\(.requests * 1000000 / .duration_us | floor) req/s  p99 \(.p99_us / 1000) ms  errors \(.err_connect + .err_read + .err_write + .err_status + .err_timeout)"' <<<"$line")" >&2
}

# --- 1. service ------------------------------------------------------------------------
bench_service() {
	local servers=(a b c d e) round i id port conns path n
	n=${#servers[@]}
	IFS=, read -r -a conns_list <<<"$CONNS"
	local total=$((ROUNDS * n * ${#conns_list[@]} * 2 * DURATION))
	log "service: $ROUNDS rounds x $n servers x ${#conns_list[@]} conns x 2 paths x ${DURATION}s (~$((total / 60 + 1)) min)"
	for ((round = 1; round <= ROUNDS; round++)); do
		for ((i = 0; i < n; i++)); do
			# Rotate the order each round so no server always runs first or last.
			id="${servers[$(((i + round - 1) % n))]}"
			port=$((18080 + i))
			start_server "$id" "$port"
			# Warm-up (connections, pools, page faults); not recorded.
			"${NICE[@]}" taskset -c 1 wrk -t1 -c"${conns_list[-1]}" -d1s "http://127.0.0.1:$port/" >/dev/null
			for conns in "${conns_list[@]}"; do
				for path in / /health; do
					wrk_run "$port" "$conns" "$path" "(round $round, $id)" \
						"$(jq -nc --argjson round "$round" --arg server "$id" --argjson conns "$conns" --arg path "$path" \
							'{section: "service", round: $round, server: $server, conns: $conns, path: $path}')"
				done
			done
			jq -nc --argjson round "$round" --arg server "$id" \
				--argjson hwm "$(proc_kib "$SRV_PID" VmHWM)" --argjson rss "$(proc_kib "$SRV_PID" VmRSS)" \
				'{section: "memory", round: $round, server: $server, vmhwm_kib: $hwm, vmrss_kib: $rss}' >>"$RAW"
			stop_server
		done
	done
}

# --- 2. startup ----------------------------------------------------------------------------
bench_startup() {
	local id access
	log "startup: $STARTS starts per server"
	for id in a b c d; do
		access=true
		[ "$id" = b ] && access=false
		case "$id" in
		a | b) HOST=127.0.0.1 ACCESS_LOG="$access" "${NICE[@]}" taskset -c 1 \
			"$BIN/startup" -n "$STARTS" -cpu 0 -port 18090 -- "$BIN/server" ;;
		c) "${NICE[@]}" taskset -c 1 "$BIN/startup" -n "$STARTS" -cpu 0 -port 18090 -- "$BIN/fiberminimal" ;;
		d) "${NICE[@]}" taskset -c 1 "$BIN/startup" -n "$STARTS" -cpu 0 -port 18090 -- "$BIN/nethttp" ;;
		esac | jq -c --arg server "$id" '{section: "startup", server: $server} + .' >>"$RAW"
		tail -n1 "$RAW" | jq -r '"  (\(.server)) median \(.median_ms) ms, idle RSS \(.median_idle_rss_kib) KiB"' >&2
	done
}

# --- profile (on request) ---------------------------------------------------------------
bench_profile() {
	local dir="$WORK/profile" pdir id access port=18095 i wrk_pid
	pdir="$FIBER_CACHE_DIR/bench-profiles"
	mkdir -p "$dir" "$pdir"
	# A copy of the module whose main package also serves net/http/pprof.
	(cd "$ROOT" && tar -cf - go.mod go.sum app) | tar -xf - -C "$dir"
	printf '%s\n' 'package main' '' 'import (' '	"net/http"' \
		'	_ "net/http/pprof" // profiling copy made by scripts/bench/run only' ')' '' \
		'func init() {' '	go func() { _ = http.ListenAndServe("127.0.0.1:6060", nil) }()' '}' \
		>"$dir/$SERVER_DIR/zz_bench_pprof.go"
	(cd "$dir" && go build -trimpath -o "$pdir/server-pprof" "$SERVER_DIR")
	for id in a b; do
		access=true
		[ "$id" = b ] && access=false
		log "profile: ($id) ACCESS_LOG=$access, wrk -c64 GET / for $((DURATION + 2))s, CPU profile of ${DURATION}s"
		rm -f "$WORK/log.fifo"
		mkfifo "$WORK/log.fifo"
		"${NICE[@]}" taskset -c 0 cat "$WORK/log.fifo" >/dev/null &
		PIDS+=("$!")
		env PORT="$port" HOST=127.0.0.1 ACCESS_LOG="$access" \
			"${NICE[@]}" taskset -c 0 "$pdir/server-pprof" >"$WORK/log.fifo" 2>>"$WORK/server-pprof.err" &
		SRV_PID=$!
		PIDS+=("$SRV_PID")
		for ((i = 0; i < 200; i++)); do
			curl -fsS -o /dev/null "http://127.0.0.1:$port/health" 2>/dev/null && break
			sleep 0.05
		done
		"${NICE[@]}" taskset -c 1 wrk -t1 -c64 -d"$((DURATION + 2))s" "http://127.0.0.1:$port/" >"$WORK/profile-wrk-$id.txt" &
		wrk_pid=$!
		PIDS+=("$wrk_pid")
		sleep 1
		curl -fsS -o "$pdir/cpu-$id.pprof" "http://127.0.0.1:6060/debug/pprof/profile?seconds=$DURATION"
		curl -fsS -o "$pdir/allocs-$id.pprof" "http://127.0.0.1:6060/debug/pprof/allocs"
		wait "$wrk_pid" || true
		stop_server
		printf '\n(%s) ACCESS_LOG=%s: %s\n' "$id" "$access" "$(grep Requests/sec "$WORK/profile-wrk-$id.txt")" >&2
		go tool pprof -top -cum -nodecount=70 "$pdir/server-pprof" "$pdir/cpu-$id.pprof" 2>/dev/null |
			grep -E "Total samples|flat%|${MODULE//./\\.}/|"'slog\.|fiber/v2\.\(\*App\)\.(handler|next)$|serveConn$|syscall\.(read|write)$|runtime\.(mallocgc|gcBgMarkWorker)$|SetDeadline|Ctx\)\.IP' >&2 || true
	done
	log "profiles in $pdir; e.g. go tool pprof -http=127.0.0.1:8000 $pdir/server-pprof $pdir/cpu-a.pprof"
}
