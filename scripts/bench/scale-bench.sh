# shellcheck shell=bash
# The "scale" section of scripts/bench/run (sourced by it): both platforms
# pushed to the local registry three ways, each on builders with empty
# roots, first cold (exporting a registry cache) and then from that cache on
# new empty builders:
#   single      one builder: bake image --push
#   split       a builder per platform, both at once:
#               PLATFORMS=<platform> bake image-digest, then scripts/merge-platforms
#   multi-node  one builder, a node per platform: bake image-digest, then merge
# The builders are buildkitds on this machine: they share its cores, so the
# figures show what each way costs here, not the speed-up of separate machines.
# Where the time goes: the Go steps of each build, from its plain progress log.
# Uses from run and buildkit-bench.sh: ROOT WORK RAW BB_BIN BB_MIRROR BB_IMAGE
# bb_setup bb_buildkitd bb_build log die, and scripts/lib.

# bs_builder NAME [PLATFORM...]: a remote builder NAME on new empty
# buildkitds: one node per PLATFORM (restricted to it), or one node for all.
bs_builder() {
	local name="$1" p addr create=(create --name "$1" --driver remote)
	shift
	if [ $# -eq 0 ]; then
		bb_buildkitd "$name" addr || die "buildkitd did not start"
		"$BB_BIN/buildx" "${create[@]}" "$addr" >/dev/null
		return
	fi
	for p in "$@"; do
		bb_buildkitd "$name-${p//\//-}" addr || die "buildkitd did not start"
		"$BB_BIN/buildx" "${create[@]}" --node "$name-${p//\//-}" --platform "$p" "$addr" >/dev/null
		create=(create --name "$name" --append)
	done
}

# bs_bake LOG BUILDER [ENV=VALUE...] -- BAKE ARGS...: buildx bake in the
# repository copy, pushing to the local registry (image BB_IMAGE).
bs_bake() {
	local log="$1" builder="$2" vars=()
	shift 2
	while [ "$1" != -- ]; do
		vars+=("$1")
		shift
	done
	shift
	(cd "$WORK/repo" && env REGISTRY="$BB_MIRROR" IMAGE="$BB_IMAGE" TAG=scale SBOM=false "${vars[@]}" \
		"$BB_BIN/buildx" bake --builder "$builder" --progress=plain "$@") >"$log" 2>&1
}

bs_merge() {
	BUILDX="$BB_BIN/buildx" "$ROOT/scripts/merge-platforms" -t "$BB_MIRROR/$BB_IMAGE:scale" "$@" \
		>>"$WORK/scale-merge.log" 2>&1
}

# The three ways; $1 names the run (cold, cached), $2 is the CACHE repository.
bs_single() {
	bs_bake "$WORK/scale-single-$1.log" "scale-single-$1" CACHE="$2" -- image --push
}

bs_split() {
	local p pids=() rc=0 pid
	for p in linux/amd64 linux/arm64; do
		bs_bake "$WORK/scale-split-$1-${p//\//-}.log" "scale-split-$1-${p//\//-}" PLATFORMS="$p" CACHE="$2" -- \
			--metadata-file "$WORK/scale-split-$1-${p//\//-}.json" image-digest &
		pids+=($!)
	done
	for pid in "${pids[@]}"; do wait "$pid" || rc=1; done
	[ "$rc" = 0 ] || return 1
	bs_merge "$WORK/scale-split-$1-linux-amd64.json" "$WORK/scale-split-$1-linux-arm64.json"
}

bs_multinode() {
	bs_bake "$WORK/scale-multinode-$1.log" "scale-multinode-$1" CACHE="$2" -- \
		--metadata-file "$WORK/scale-multinode-$1.json" image-digest &&
		bs_merge "$WORK/scale-multinode-$1.json"
}

# bs_steps LOG...: where a build's time went: the seconds of its Go steps
# (go mod download, go build per platform) and of the export, summed over
# the logs, from the "#N [stage] RUN ..." / "#N DONE 12.3s" lines.
bs_steps() {
	awk '
		/^#[0-9]+ \[/ {
			n = $1
			name[n] = ""
			if ($0 ~ /deps [0-9]+\/[0-9]+\] RUN/) name[n] = "go mod download"
			else if ($0 ~ /build [0-9]+\/[0-9]+\] RUN/) {
				arch = ""
				# A cross-compiling step is named [linux/amd64->arm64 build 1/1].
				if (match($0, /->(amd64|arm64)/)) arch = substr($0, RSTART + 2, RLENGTH - 2)
				else if (match($0, /linux[-\/](amd64|arm64)/)) arch = substr($0, RSTART + 6, RLENGTH - 6)
				else if (match(FILENAME, /linux-(amd64|arm64)/)) arch = substr(FILENAME, RSTART + 6, RLENGTH - 6)
				name[n] = "go build" (arch != "" ? " " arch : "")
			}
		}
		/^#[0-9]+ (exporting to image|exporting cache|exporting manifest|pushing)/ { name[$1] = "export and push" }
		/^#[0-9]+ DONE [0-9.]+s$/ {
			n = $1; s = $3; sub(/s$/, "", s)
			if (name[n] != "" && !(FILENAME SUBSEP n in seen)) { seen[FILENAME, n] = 1; t[name[n]] += s }
		}
		END { for (k in t) printf "%s %.1f s\n", k, t[k] }
	' "$@" | sort | paste -sd ';' | sed 's/;/; /g'
}

# bs_record NAME LOGS...: adds where the time went to the note of NAME's record.
bs_record() {
	local name="$1" steps
	shift
	steps="$(bs_steps "$@")"
	jq -c --arg name "$name" --arg steps "$steps" \
		'if .section == "build" and .name == $name and $steps != "" then .note += " (" + $steps + ")" else . end' \
		"$RAW" >"$RAW.new"
	mv "$RAW.new" "$RAW"
}

bench_scale() {
	bb_setup
	local run cache way id
	id="$(date +%s)" # the registry outlives the run: caches of this run's own
	for run in cold cached; do
		# cold: empty builders, a new cache repository (nothing to import);
		# cached: empty builders again, importing what the cold run exported.
		for way in single split multinode; do
			cache="$BB_MIRROR/$BB_IMAGE-cache-$way-$id"
			case "$way" in
			single) bs_builder "scale-single-$run" ;;
			split)
				bs_builder "scale-split-$run-linux-amd64" linux/amd64
				bs_builder "scale-split-$run-linux-arm64" linux/arm64
				;;
			multinode) bs_builder "scale-multinode-$run" linux/amd64 linux/arm64 ;;
			esac
			bb_build "scale-$way-$run" "$(bs_note "$way" "$run")" "bs_$way" "$run" "$cache"
			bs_record "scale-$way-$run" "$WORK"/scale-"$way"-"$run"*.log
		done
	done
}

bs_note() {
	local what
	case "$1" in
	single) what="both platforms, one builder (bake image --push)" ;;
	split) what="a builder per platform at once (PLATFORMS=<p> bake image-digest) + merge-platforms" ;;
	multinode) what="one builder, a node per platform (bake image-digest) + merge-platforms" ;;
	esac
	case "$2" in
	cold) echo "$what; empty builders, exporting a registry cache" ;;
	cached) echo "$what; empty builders, from that registry cache" ;;
	esac
}
