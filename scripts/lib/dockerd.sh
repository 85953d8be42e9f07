# shellcheck shell=bash
# A private Docker engine (Debian's docker.io, dockerd 20.10) that touches
# nothing of a system Docker: its own data root, exec root, socket and bridge,
# and no iptables rules (published ports go through Docker's userland proxy,
# so -p 127.0.0.1:PORT:8080 still works).
# Functions only (no traps, no globals). Needs daemon.sh.

# dockerd_start STATE_DIR BRIDGE CIDR MIRROR: creates the bridge BRIDGE with
# address CIDR (e.g. 10.213.0.1/24) and starts dockerd with its state in
# STATE_DIR, socket STATE_DIR/docker.sock and log STATE_DIR/dockerd.log,
# pulling docker.io images through the registry MIRROR (host:port). Prints
# its PID once the API answers.
dockerd_start() {
	local state="$1" bridge="$2" cidr="$3" mirror="$4" pid
	mkdir -p "$state"
	if ! ip link show "$bridge" >/dev/null 2>&1; then
		if ! { ip link add "$bridge" type bridge && ip addr add "$cidr" dev "$bridge" && ip link set "$bridge" up; }; then
			fail "could not create the bridge $bridge ($cidr)"
			return
		fi
	fi
	dockerd --data-root "$state/data" --exec-root "$state/exec" --pidfile "$state/dockerd.pid" \
		-H "unix://$state/docker.sock" --bridge "$bridge" --iptables=false --ip6tables=false \
		--ip-masq=false --registry-mirror "http://$mirror" >"$state/dockerd.log" 2>&1 &
	pid=$!
	daemon_wait_ready "$pid" "$state/dockerd.log" 240 \
		env DOCKER_HOST="unix://$state/docker.sock" docker version || return
	echo "$pid"
}

# dockerd_stop PID STATE_DIR BRIDGE: removes every container, stops dockerd
# (and the containerd it started), deletes the bridge and the state.
dockerd_stop() {
	local pid="$1" state="$2" bridge="$3" ids
	if [[ -S "$state/docker.sock" ]]; then
		ids="$(DOCKER_HOST="unix://$state/docker.sock" docker ps -aq 2>/dev/null || true)"
		# shellcheck disable=SC2086 # one argument per container ID
		[[ -z "$ids" ]] || DOCKER_HOST="unix://$state/docker.sock" docker rm -f $ids >/dev/null 2>&1 || true
	fi
	daemon_stop "$pid" 30
	ip link del "$bridge" 2>/dev/null || true
	awk -v d="$state/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r | while read -r m; do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
	done
	rm -rf --one-file-system "$state"
}
