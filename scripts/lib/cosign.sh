# shellcheck shell=bash
# cosign, built from the Go module proxy at the release that release.yml
# installs (sigstore/cosign-installer's cosign-release input: the workflow
# rules test in scripts/release holds the two equal). Major 2: it signs with
# a key offline (--tlog-upload=false) and stores signatures as .sig tags,
# which the Distribution registry 2.8 of the tests holds; 3.x fetches its
# signing config over TUF and stores OCI referrers. Functions only (no traps,
# no globals). Needs daemon.sh (log, fail), buildkit.sh (build_into) and Go.

# cosign_version: the pinned cosign release.
cosign_version() { echo v2.6.5; }

# cosign_tool CACHE_DIR: prints the path of cosign, built with go install
# into CACHE_DIR/bin on first use (heavy: minutes on 2 cores). The directory
# name carries the version and a hash of the Go version.
cosign_tool() {
	local cache="$1" version bin
	version="$(cosign_version)"
	bin="$cache/bin/cosign-${version}_$(go version | sha256sum | cut -c1-12)"
	if [[ ! -x "$bin/cosign" ]]; then
		rm -rf "$bin"
		log "building cosign $version (first run only)"
		build_into "$bin" "cosign $version" cosign_go_install "$version" || return
	fi
	echo "$bin/cosign"
}

# cosign_go_install VERSION OUT_DIR: the build of cosign_tool.
cosign_go_install() {
	GOBIN="$2" CGO_ENABLED=0 go install -ldflags "-s -w" "github.com/sigstore/cosign/${1%%.*}/cmd/cosign@$1"
}
