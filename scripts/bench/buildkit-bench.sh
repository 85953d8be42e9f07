# shellcheck shell=bash
# Image-size and build-speed sections of scripts/bench/run (sourced by it).
# Everything runs on private buildkitds with fresh roots that are deleted on
# exit, pulling the stand-in base images from the local registry (its docker.io
# mirror, as in scripts/build-image); builds run in a copy of the repository,
# so the one-line change for the warm rebuild never touches the work tree.
# Uses from run: ROOT BENCH WORK RAW SERVER_DIR EMULATED_TIMEOUT PIDS
# want die on_exit track_wait, and the functions of scripts/lib.

# bb_build NAME NOTE CMD...: times CMD (output to a log) and records it. With
# BB_TIMEOUT=SEC the build is stopped after SEC seconds and recorded as a lower
# bound ("more than SEC s").
bb_build() {
	local name="$1" note="$2" t0 t1 secs pid watchdog="" rc=0 lower=false
	shift 2
	log "build: $name ($note)"
	rm -f "$WORK/timeout-$name"
	t0="$(date +%s.%N)"
	# In the background and waited for, so a signal to this script is handled
	# at once (the exit hooks stop it and buildkitd) instead of after the build.
	"$@" >"$WORK/build-$name.log" 2>&1 &
	pid=$!
	if [ "${BB_TIMEOUT:-0}" != 0 ]; then
		(
			sleep "$BB_TIMEOUT"
			touch "$WORK/timeout-$name"
			pkill -TERM -P "$pid" || true
			kill -TERM "$pid" || true
		) >/dev/null 2>&1 &
		watchdog=$!
		PIDS+=("$watchdog")
	fi
	track_wait "$pid" || rc=$?
	t1="$(date +%s.%N)"
	if [ -n "$watchdog" ]; then
		pkill -TERM -P "$watchdog" 2>/dev/null || true
		track_wait "$watchdog" 2>/dev/null || true
	fi
	if [ -e "$WORK/timeout-$name" ]; then
		lower=true
		note="$note; stopped after ${BB_TIMEOUT}s, so a lower bound"
		log "build: $name stopped after ${BB_TIMEOUT}s (see --emulated-timeout)"
	elif [ "$rc" != 0 ]; then
		tail -n 40 "$WORK/build-$name.log" >&2
		if grep -q 'exec format error' "$WORK/build-$name.log"; then
			die "build $name failed: an arm64 program could not be run, so the QEMU binfmt handler was" \
				"switched off during the build (scripts/e2e-image does that while it runs: do not run both at once)"
		fi
		die "build $name failed (log above)"
	fi
	secs="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')"
	log "build: $name took ${secs}s"
	jq -nc --arg name "$name" --arg note "$note" --argjson s "$secs" --argjson lower "$lower" \
		'{section: "build", name: $name, seconds: $s, note: $note, lower_bound: $lower}' >>"$RAW"
}

# bb_bake OUT.tar [BAKE ARGS...]: the real `buildx bake image` (docker-bake.hcl,
# Dockerfile) in the repository copy, exported as an OCI archive. SBOM=false as
# in scripts/build-image (its scanner image cannot be pulled offline);
# provenance stays on.
bb_bake() {
	local out="$1"
	shift
	(cd "$WORK/repo" && SBOM=false "$BB_BIN/buildx" bake image --progress=plain \
		--allow "fs.write=$WORK" --set "image.output=type=oci,dest=$out" "$@")
}

bb_prune() { "$BB_BIN/buildctl" --addr "$BB_ADDR" prune --all >/dev/null; }

# bb_buildkitd NAME VAR: a buildkitd with an empty root (removed on exit) that
# uses the local registry as its docker.io mirror; sets VAR to its address.
# Not called in $(...): the exit hook must be registered in this shell.
bb_buildkitd() {
	local dir="$WORK/buildkitd-$1" root pid
	mkdir -p "$dir" "$FIBER_CACHE_DIR"
	root="$(mktemp -d "$FIBER_CACHE_DIR/bench-buildkit.XXXXXX")"
	buildkitd_config "$dir/buildkitd.toml" "$BB_MIRROR"
	pid="$(buildkitd_start "$BB_BIN" "$root" "$dir" "$dir/buildkitd.toml")" || return
	on_exit "daemon_stop $pid; buildkit_rm_root '$root'"
	printf -v "$2" '%s' "unix://$dir/buildkitd.sock"
}

# --- image size ------------------------------------------------------------------
# bb_image_sizes OCI.tar: one raw "image" record per platform. Our layer is
# the last one (the Dockerfile's only COPY into the runtime stage); the rest
# is the base image.
bb_image_sizes() {
	local file="$1" digest platform manifest layer size usize
	oci_manifests "$file" |
		while read -r platform digest; do
			manifest="$(tar -xOf "$file" "blobs/${digest/://}")"
			local bc=0 bu=0 ac=0 au=0 bn=0 an=0 n i=0 cfg
			n="$(jq '.layers | length' <<<"$manifest")"
			cfg="$(jq '.config.size' <<<"$manifest")"
			while read -r layer size; do
				i=$((i + 1))
				usize="$(oci_uncompressed "$file" "$layer")"
				if [ "$i" -lt "$n" ]; then
					bc=$((bc + size)) bu=$((bu + usize)) bn=$((bn + 1))
				else
					ac=$((ac + size)) au=$((au + usize)) an=$((an + 1))
				fi
			done < <(jq -r '.layers[] | "\(.digest) \(.size)"' <<<"$manifest")
			jq -nc --arg p "$platform" --argjson bc "$bc" --argjson bu "$bu" --argjson ac "$ac" --argjson au "$au" \
				--argjson bn "$bn" --argjson an "$an" --argjson cfg "$cfg" \
				'{section: "image", platform: $p, base_compressed: $bc, base_uncompressed: $bu,
          app_compressed: $ac, app_uncompressed: $au, base_layers: $bn, app_layers: $an, config_bytes: $cfg}'
		done >>"$RAW"
	jq -r 'select(.section == "image") | "  \(.platform): base \(.base_compressed)/\(.base_uncompressed) B, ours \(.app_compressed)/\(.app_uncompressed) B (compressed/uncompressed)"' "$RAW" >&2
}

# --- QEMU for the emulated build ---------------------------------------------------------
# bb_binfmt_on: QEMU for arm64 programs, with every other arm64 handler
# switched off (one without the F flag would be tried first and fail inside
# the build container); everything is put back on exit.
bb_binfmt_on() {
	local mounted others
	mounted="$(binfmt_mount)" || die "cannot mount binfmt_misc"
	[ "$mounted" != mounted ] || on_exit "umount /proc/sys/fs/binfmt_misc"
	others="$(binfmt_aarch64_enabled | tr '\n' ' ')"
	if [ -n "$others" ]; then
		# shellcheck disable=SC2086 # one argument per handler
		binfmt_disable $others
		on_exit "binfmt_enable $others"
	fi
	binfmt_register_aarch64 fiber-bench-aarch64 || die "cannot register QEMU for arm64"
	on_exit "binfmt_remove fiber-bench-aarch64"
}

# bb_golang_arm64: an arm64 Go builder stand-in (Alpine aarch64 + the official
# linux-arm64 toolchain from the module proxy), pushed to the local registry as
# bench/golang:TAG; prints that reference. Only the emulated build uses it.
bb_golang_arm64() {
	local gover tc ctx rootfs key layout tag="$1"
	gover="$(go env GOVERSION)"
	tc="$FIBER_CACHE_DIR/toolchains/$gover.linux-arm64"
	if [ ! -x "$tc/bin/go" ]; then
		local dir
		dir="$(cd "$WORK" && GOFLAGS=-mod=mod go mod download -json "golang.org/toolchain@v0.0.1-$gover.linux-arm64" | jq -r .Dir)"
		[ -d "$dir" ] || die "could not download the $gover linux-arm64 toolchain"
		mkdir -p "$FIBER_CACHE_DIR/toolchains"
		rm -rf "$tc.tmp"
		cp -r "$dir" "$tc.tmp"
		chmod -R u+w "$tc.tmp"
		chmod +x "$tc.tmp"/bin/* "$tc.tmp"/pkg/tool/*/*
		mv "$tc.tmp" "$tc"
	fi
	ctx="$WORK/golang-arm64"
	mkdir -p "$ctx"
	rootfs="$(alpine_rootfs "$ALPINE_ROOTFS_DIR" | awk '$1 == "arm64" { print $2 }')"
	[ -n "$rootfs" ] || die "no aarch64 minirootfs in $ALPINE_ROOTFS_DIR"
	cp "$rootfs" "$ctx/rootfs-arm64.tar.gz"
	cp /etc/ssl/certs/ca-certificates.crt "$ctx/"
	go_standin_dockerfile >"$ctx/Dockerfile"
	key="$({
		cat "$ctx/Dockerfile" /etc/ssl/certs/ca-certificates.crt
		sha256sum <"$rootfs"
		echo "$gover ${GOPROXY:-} ${GOFLAGS:-}"
	} | sha256sum | cut -c1-16)"
	layout="$(standin_build "$BB_BIN" "$BB_ADDR" "$FIBER_CACHE_DIR" golang-arm64 "$key" "$ctx" \
		--opt platform=linux/arm64 --local "goroot=$tc" --opt context:goroot=local:goroot \
		--opt "build-arg:GOPROXY=${GOPROXY:-}" --opt "build-arg:GOFLAGS=${GOFLAGS:-}")" || die "arm64 Go stand-in failed"
	standin_push "$layout" "$BB_MIRROR" "bench/golang:$tag" || die "pushing the arm64 Go stand-in failed"
	echo "$BB_MIRROR/bench/golang:$tag"
}

# bb_emulated OUT.tar: scripts/bench/Dockerfile.emulated for linux/arm64 only.
# alpine and the frontend come through the mirror; the arm64 Go image exists
# only in the bench, so its FROM is pointed at it.
bb_emulated() {
	local out="$1"
	(cd "$WORK/repo" && "$BB_BIN/buildx" build --progress=plain --platform linux/arm64 \
		-f "$BENCH/Dockerfile.emulated" \
		--build-arg "GO_VERSION=$BB_GO_VERSION" --build-arg "ALPINE_VERSION=$BB_ALPINE_VERSION" \
		--build-arg "MAIN_PKG=$SERVER_DIR" \
		--build-context "golang:$BB_GO_VERSION-alpine$BB_ALPINE_VERSION=docker-image://$BB_GOLANG_ARM64" \
		--output "type=oci,dest=$out" .)
}

# bb_setup: once per run: BuildKit, the local registry with the stand-ins,
# the main buildkitd and builder "bench", the repository copy.
bb_setup() {
	local vars port
	[ -z "${BB_ADDR:-}" ] || return 0
	ALPINE_ROOTFS_DIR="${ALPINE_ROOTFS_DIR:-$ROOT/../shared/alpine}"
	alpine_rootfs "$ALPINE_ROOTFS_DIR" >/dev/null || die "no Alpine minirootfs"
	BB_BIN="$(buildkit_tools "$ROOT/scripts/tools" "$FIBER_CACHE_DIR")" || die "building BuildKit failed"
	export BUILDX_CONFIG="$WORK/buildx"
	vars="$(cd "$ROOT" && "$BB_BIN/buildx" bake --print validate 2>/dev/null)"
	BB_GO_VERSION="$(jq -r '.target.validate.args.GO_VERSION' <<<"$vars")"
	BB_ALPINE_VERSION="$(jq -r '.target.validate.args.ALPINE_VERSION' <<<"$vars")"
	# The bench's images are named after the service's (the bake file's IMAGE).
	BB_IMAGE="$(cd "$ROOT" && "$BB_BIN/buildx" bake --list type=variables,format=json 2>/dev/null |
		jq -r '.[] | select(.name == "IMAGE") | .value')-bench"

	# The local registry: the docker.io mirror with the stand-ins, and the
	# registry cache of the cache measurement.
	port="${FIBER_REGISTRY_PORT:-5000}"
	BB_MIRROR="127.0.0.1:$port"
	if ! "$ROOT/scripts/registry" status >/dev/null 2>&1; then
		"$ROOT/scripts/registry" start >&2
		on_exit "'$ROOT/scripts/registry' stop >/dev/null"
	fi
	# Fresh buildkitd roots: the cold build really starts from nothing, and no
	# other buildkitd's state (scripts/build-image's) is touched.
	bb_buildkitd main BB_ADDR || die "buildkitd did not start"
	standins_push "$BB_BIN" "$BB_ADDR" "$FIBER_CACHE_DIR" "$ALPINE_ROOTFS_DIR" "$BB_MIRROR" \
		"$BB_GO_VERSION" "$BB_ALPINE_VERSION" || die "stand-in base images failed"
	"$BB_BIN/buildx" create --name bench --driver remote --use "$BB_ADDR" >/dev/null

	# The repository copy the builds run in (only what the build context uses).
	mkdir -p "$WORK/repo"
	(cd "$ROOT" && tar -cf - go.mod go.sum app Dockerfile docker-bake.hcl .dockerignore) | tar -xf - -C "$WORK/repo"
}

bench_buildkit() {
	bb_setup
	if want build; then
		bb_prune
		bb_build cold "both platforms, empty cache" bb_bake "$WORK/cold.tar"
		want image && bb_image_sizes "$WORK/cold.tar"
		# A registry cache (mode=max) of that build, and a brand-new builder that
		# has nothing but it.
		local cache="$BB_MIRROR/$BB_IMAGE-cache"
		CACHE="$cache" bb_bake "$WORK/export.tar" >"$WORK/cache-export.log" 2>&1 ||
			{
				tail -n 40 "$WORK/cache-export.log" >&2
				die "cache export failed"
			}
		local fresh
		bb_buildkitd cache fresh || die "buildkitd did not start"
		"$BB_BIN/buildx" create --name bench-fresh --driver remote "$fresh" >/dev/null
		CACHE="$cache" bb_build registry-cache "both platforms, empty builder, CACHE=registry (mode=max)" \
			bb_bake "$WORK/registry-cache.tar" --builder bench-fresh
		# One-line change in app/ (in the copy): a new package-level value.
		local f
		f="$(find "$WORK/repo/app" -maxdepth 1 -name '*.go' ! -name '*_test.go' | sort | head -n1)"
		printf '\nvar _ = "bench rebuild %s"\n' "$(date +%s%N)" >>"$f"
		bb_build warm "both platforms, after a one-line change in app/" bb_bake "$WORK/warm.tar"
		bb_build no-change "both platforms, nothing changed" bb_bake "$WORK/nochange.tar"
		bb_prune
		bb_build cross-arm64 "linux/arm64 only, empty cache, real Dockerfile (cross-compiled)" \
			bb_bake "$WORK/cross.tar" --set image.platform=linux/arm64
	elif want image; then
		log "image: buildx bake image (both platforms)"
		bb_bake "$WORK/image.tar" >"$WORK/build-image.log" 2>&1 &
		track_wait "$!" ||
			{
				tail -n 40 "$WORK/build-image.log" >&2
				die "image build failed (log above)"
			}
		bb_image_sizes "$WORK/image.tar"
	fi
	if want emulated; then
		# auto: stop at 12x the cross-compiled arm64 build of this run. Past that
		# the >= 10x target is settled, and emulation can take 10+ minutes.
		local timeout="$EMULATED_TIMEOUT" cross
		if [ "$timeout" = auto ]; then
			cross="$(jq -r 'select(.section == "build" and .name == "cross-arm64") | .seconds' "$RAW" | tail -n1)"
			if [ -n "$cross" ]; then
				timeout="$(awk -v c="$cross" 'BEGIN { printf "%d", c * 12 + 1 }')"
			else
				timeout=1200
			fi
		fi
		BB_GOLANG_ARM64="$(bb_golang_arm64 "$BB_GO_VERSION-alpine$BB_ALPINE_VERSION")"
		bb_binfmt_on
		bb_prune
		BB_TIMEOUT="$timeout" bb_build emulated-arm64 \
			"linux/arm64 only, empty cache, scripts/bench/Dockerfile.emulated (QEMU)" bb_emulated "$WORK/emulated.tar"
	fi
}
