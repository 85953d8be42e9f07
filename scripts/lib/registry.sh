# shellcheck shell=bash
# The CNCF Distribution registry (Debian's docker-registry) on 127.0.0.1:
# the push target and the docker.io mirror of the offline path.
# Functions only (no traps, no globals). Needs scripts/lib/daemon.sh.

# registry_answers ADDR: succeeds if a Docker registry (API v2) answers at
# ADDR (host:port) over plain HTTP.
registry_answers() {
	curl -fsS -o /dev/null -D - --max-time 2 "http://$1/v2/" 2>/dev/null |
		grep -qi '^docker-distribution-api-version: registry/2.0'
}

# registry_start DATA_DIR PORT STATE_DIR [readonly]: starts a registry on
# 127.0.0.1:PORT with filesystem storage in DATA_DIR; config and log go to
# STATE_DIR. Prints its PID once /v2/ answers. "readonly" refuses pushes
# (for tests of that failure).
registry_start() {
	local data="$1" port="$2" state="$3" mode="${4:-}" pid what
	if port_in_use 127.0.0.1 "$port"; then
		what="something that is not a registry"
		registry_answers "127.0.0.1:$port" && what="another registry"
		fail "127.0.0.1:$port is already taken by $what; stop it or choose another port (FIBER_REGISTRY_PORT)"
		return
	fi
	mkdir -p "$data" "$state"
	cat >"$state/registry.yml" <<YAML
version: 0.1
log:
  level: warn
  accesslog: {disabled: true}
storage:
  filesystem: {rootdirectory: $data}
  delete: {enabled: true}
  maintenance:
    uploadpurging: {enabled: false}
    readonly: {enabled: $([[ "$mode" == readonly ]] && echo true || echo false)}
http:
  addr: 127.0.0.1:$port
  headers:
    X-Content-Type-Options: [nosniff]
YAML
	docker-registry serve "$state/registry.yml" >"$state/registry.log" 2>&1 &
	pid=$!
	daemon_wait_ready "$pid" "$state/registry.log" 80 registry_answers "127.0.0.1:$port" || return
	echo "$pid"
}
