# shellcheck shell=bash
# Installs Debian packages on first use, so every script works on a fresh
# machine. Sourced by scripts/test and scripts/lib/buildkit.sh (and so by
# build-image, e2e-image and bench/run).

# need_commands CMD:PACKAGE...: installs the package of every command that is
# not on PATH (apt-get, as root).
need_commands() {
	local dep missing=()
	for dep in "$@"; do
		command -v "${dep%%:*}" >/dev/null 2>&1 || missing+=("${dep#*:}")
	done
	((${#missing[@]})) || return 0
	if [[ "$(id -u)" != 0 ]]; then
		echo "missing Debian packages: ${missing[*]} (run as root, or install them)" >&2
		return 1
	fi
	echo "installing Debian packages: ${missing[*]}" >&2
	DEBIAN_FRONTEND=noninteractive apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
