# shellcheck shell=bash
# A private Docker engine (Debian's docker.io, dockerd 20.10) that touches
# nothing of the host's network or of a system Docker: its own data root,
# exec root and socket, and a network namespace of its own. Inside it, dockerd
# runs with its defaults (the docker0 bridge, iptables rules, the userland
# proxy), so `docker run -p 127.0.0.1:PORT:8080` behaves as on any Docker
# host, while the host's routes, firewall and bridges can neither break it
# nor be changed by it. The namespace's 127.0.0.1 is not the host's: a client
# of a published port, and dockerd's way to the registry MIRROR, must be
# joined to it (scripts/e2e relays both through sockets made in the namespace).
# Functions only (no traps, no globals). Needs daemon.sh.

# dockerd_start STATE_DIR NETNS MIRROR: creates the network namespace NETNS
# (/run/netns/NETNS) and starts dockerd in it with its state in STATE_DIR,
# socket STATE_DIR/docker.sock and log STATE_DIR/dockerd.log, pulling docker.io
# images through the registry MIRROR (host:port, as seen from inside NETNS).
# Prints its PID once the API answers.
dockerd_start() {
	local state="$1" netns="$2" mirror="$3" pid
	mkdir -p "$state"
	# A namespace of this name is a leftover of a run that was killed: the
	# name carries the registry port, which a live run would still hold.
	ip netns del "$netns" 2>/dev/null || true
	if ! { ip netns add "$netns" && ip -n "$netns" link set lo up; }; then
		fail "could not create the network namespace $netns"
		return
	fi
	# nsenter, not `ip netns exec`: that also remounts /sys, which hides the
	# cgroup mounts dockerd needs.
	nsenter --net="/run/netns/$netns" \
		dockerd --data-root "$state/data" --exec-root "$state/exec" --pidfile "$state/dockerd.pid" \
		-H "unix://$state/docker.sock" --registry-mirror "http://$mirror" >"$state/dockerd.log" 2>&1 &
	pid=$!
	if ! daemon_wait_ready "$pid" "$state/dockerd.log" 240 \
		env DOCKER_HOST="unix://$state/docker.sock" docker version; then
		ip netns del "$netns" 2>/dev/null || true
		return 1
	fi
	echo "$pid"
}

# dockerd_stop PID STATE_DIR NETNS: removes every container, stops dockerd
# (and the containerd it started), deletes the network namespace (and with it
# the bridge and the rules dockerd made) and the state.
dockerd_stop() {
	local pid="$1" state="$2" netns="$3" ids
	if [[ -S "$state/docker.sock" ]]; then
		ids="$(DOCKER_HOST="unix://$state/docker.sock" docker ps -aq 2>/dev/null || true)"
		# shellcheck disable=SC2086 # one argument per container ID
		[[ -z "$ids" ]] || DOCKER_HOST="unix://$state/docker.sock" docker rm -f $ids >/dev/null 2>&1 || true
	fi
	daemon_stop "$pid" 30
	ip netns del "$netns" 2>/dev/null || true
	awk -v d="$state/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r | while read -r m; do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
	done
	rm -rf --one-file-system "$state"
}
