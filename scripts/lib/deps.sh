# shellcheck shell=bash
# Installs Debian packages and Go tools on first use, so every script works
# on a fresh machine. Sourced by the entry scripts (test, build-image, registry,
# bench/run) and by the e2e tests' calls into scripts/lib.

# need_commands CMD:PACKAGE...: installs the package of every command that is
# not on PATH (apt-get, as root).
need_commands() {
	local dep missing=()
	for dep in "$@"; do
		command -v "${dep%%:*}" >/dev/null 2>&1 || missing+=("${dep#*:}")
	done
	install_packages "${missing[@]}"
}

# need_python_modules MODULE:PACKAGE...: installs the package of every Python
# module that neither Debian's python3 (where apt puts it) nor the python3 on
# PATH can import.
need_python_modules() {
	local dep py missing=()
	for dep in "$@"; do
		for py in /usr/bin/python3 python3; do
			"$py" -c "import ${dep%%:*}" >/dev/null 2>&1 && continue 2
		done
		missing+=("${dep#*:}")
	done
	install_packages "${missing[@]}"
}

# install_packages PACKAGE...: apt-get install, as root; nothing to do
# without arguments.
install_packages() {
	(($#)) || return 0
	if [[ "$(id -u)" != 0 ]]; then
		echo "missing Debian packages: $* (run as root, or install them)" >&2
		return 1
	fi
	echo "installing Debian packages: $*" >&2
	DEBIAN_FRONTEND=noninteractive apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# go_tool PACKAGE@VERSION: prints the path of the program built from
# PACKAGE at VERSION, building it once (go install, from the Go module
# proxy) into ${FIBER_CACHE_DIR:-/var/cache/fiber-service}/bin/NAME-VERSION.
go_tool() {
	local name="${1%@*}" version="${1##*@}" dir
	name="${name##*/}"
	dir="${FIBER_CACHE_DIR:-/var/cache/fiber-service}/bin/$name-$version"
	if [[ ! -x "$dir/$name" ]]; then
		echo "installing $name $version into $dir" >&2
		mkdir -p "$dir"
		GOBIN="$dir" go install "$1" >&2
	fi
	echo "$dir/$name"
}
