# shellcheck shell=bash
# Installs Debian packages on first use, so every script works on a fresh
# machine. Sourced by scripts/test and .ci/run.

apt_updated=false

# ensure_apt_packages PKG...: installs the packages that are not installed.
ensure_apt_packages() {
	local pkg missing=()
	for pkg in "$@"; do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
	done
	((${#missing[@]})) || return 0
	if [[ "$(id -u)" != 0 ]]; then
		echo "missing Debian packages: ${missing[*]} (run as root, or install them)" >&2
		return 1
	fi
	echo "installing Debian packages: ${missing[*]}" >&2
	if [[ "$apt_updated" == false ]]; then
		DEBIAN_FRONTEND=noninteractive apt-get update -qq
		apt_updated=true
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
