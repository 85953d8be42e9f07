# shellcheck shell=bash
# Starting and stopping background daemons by PID. Functions only: no traps,
# no globals; callers own their cleanup.

# log MESSAGE...: a progress line on stderr.
log() { printf '==> %s\n' "$*" >&2; }

# fail MESSAGE...: one error line on stderr; returns 1 so callers can
# `fail ... || return` or let set -e end the script.
fail() {
	printf 'error: %s\n' "$*" >&2
	return 1
}

# daemon_wait_ready PID LOG TRIES PROBE...: waits until the command PROBE
# succeeds (every 0.25 s, TRIES times). Fails, showing the tail of LOG, if PID
# exits first or the probe never succeeds.
daemon_wait_ready() {
	local pid="$1" logfile="$2" tries="$3" i
	shift 3
	for ((i = 0; i < tries; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		if ! kill -0 "$pid" 2>/dev/null; then
			tail -n 20 "$logfile" >&2
			fail "the daemon (pid $pid) exited during startup; log: $logfile"
			return
		fi
		sleep 0.25
	done
	tail -n 20 "$logfile" >&2
	daemon_stop "$pid"
	fail "the daemon (pid $pid) did not become ready; log: $logfile"
}

# daemon_stop PID [SECONDS]: SIGTERM, then SIGKILL after SECONDS (default 20);
# returns once the process is gone. A PID that is already gone is fine.
daemon_stop() {
	local pid="$1" secs="${2:-20}" i
	[[ -n "$pid" ]] || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < secs * 4; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.25
	done
	kill -KILL "$pid" 2>/dev/null || true
	for ((i = 0; i < 20; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.25
	done
}

# port_in_use HOST PORT: succeeds if something accepts TCP connections there.
port_in_use() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# free_port: prints a TCP port on 127.0.0.1 that nothing listens on.
free_port() {
	local p
	while :; do
		p=$((20000 + RANDOM % 30000))
		port_in_use 127.0.0.1 "$p" || {
			echo "$p"
			return
		}
	done
}
