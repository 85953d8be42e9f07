# shellcheck shell=bash
# Image-size and build-speed sections of scripts/bench/run (sourced by it, after
# scripts/lib/buildkit.sh). Everything runs on a private buildkitd with a fresh
# root that is deleted on exit; builds run in a copy of the repository, so the
# one-line change for the warm rebuild never touches the work tree.
# Uses from run: ROOT BENCH WORK RAW SERVER_DIR want log die.

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
# Dockerfile) in the repository copy, exported as an OCI archive. SBOM
# attestation is off as in scripts/build-image (its scanner image cannot be
# pulled offline); provenance stays on.
bb_bake() {
  local out="$1"
  shift
  (cd "$WORK/repo" && buildx bake image --progress=plain "${BK_BAKE_ARGS[@]}" \
    --allow "fs.write=$WORK" --set "image.output=type=oci,dest=$out" \
    --set image.attest=type=sbom,disabled=true "$@")
}

bb_prune() { buildctl prune --all >/dev/null; }

# bb_context NAME: the oci-layout:// value bk_standins mapped NAME to.
bb_context() {
  local a
  for a in "${BK_BAKE_ARGS[@]}"; do
    case "$a" in "*.contexts.$1="*) printf '%s\n' "${a#*=}"; return 0 ;; esac
  done
  return 1
}
bb_context_name() { # bb_context_name PREFIX: full context name starting with PREFIX
  local a
  for a in "${BK_BAKE_ARGS[@]}"; do
    case "$a" in "*.contexts.$1"*) a="${a#\*.contexts.}"; printf '%s\n' "${a%%=*}"; return 0 ;; esac
  done
  return 1
}

# --- image size ------------------------------------------------------------------
# bb_image_sizes OCI.tar: one raw "image" record per platform. Base layers are
# those whose digests the alpine stand-in has; the rest are ours.
bb_image_sizes() {
  local file="$1" alpine dir digest platform manifest layer size usize base_digests f
  alpine="$(bb_context "$(bb_context_name alpine:)")"
  alpine="${alpine#oci-layout://}"
  dir="${alpine%@*}"
  # Layer digests of every platform of the stand-in (any blob that is a manifest).
  base_digests="$(for f in "$dir"/blobs/sha256/*; do
    jq -r '.layers[]?.digest' "$f" 2>/dev/null || true
  done | sort -u)"
  bk_oci_manifests "$file" |
    while read -r platform digest; do
      manifest="$(tar -xOf "$file" "blobs/${digest/://}")"
      local bc=0 bu=0 ac=0 au=0 bn=0 an=0 n i=0 cfg
      n="$(jq '.layers | length' <<<"$manifest")"
      cfg="$(jq '.config.size' <<<"$manifest")"
      while read -r layer size; do
        i=$((i + 1))
        usize="$(bk_oci_uncompressed "$file" "$layer")"
        if grep -qxF "$layer" <<<"$base_digests" || { [ -z "$base_digests" ] && [ "$i" -lt "$n" ]; }; then
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
BB_BINFMT=fiber-bench-aarch64
BB_BINFMT_DISABLED=()
bb_binfmt_on() {
  local dir=/proc/sys/fs/binfmt_misc e
  [ -x /usr/bin/qemu-aarch64-static ] || die "qemu-aarch64-static missing (apt-get install qemu-user-static)"
  if ! mountpoint -q "$dir"; then
    mount -t binfmt_misc binfmt_misc "$dir" || die "cannot mount binfmt_misc"
  fi
  # An enabled aarch64 handler without the F flag (Debian's default) would be
  # tried first and fail inside the container: switch it off while we run.
  for e in "$dir"/*; do
    case "${e##*/}" in register | status | "$BB_BINFMT") continue ;; esac
    if grep -qx enabled "$e" 2>/dev/null && grep -q 'magic 7f454c460201010000000000000000000200b700' "$e" &&
      ! grep -q '^flags:.*F' "$e"; then
      echo 0 >"$e"
      BB_BINFMT_DISABLED+=("$e")
    fi
  done
  [ -e "$dir/$BB_BINFMT" ] && echo -1 >"$dir/$BB_BINFMT"
  bk_on_exit bb_binfmt_off
  # Magic and mask as in QEMU's qemu-binfmt-conf.sh; F = open the interpreter now,
  # so it works inside containers that do not have it.
  printf '%s' ":$BB_BINFMT:M::"'\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00'":"'\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff'":/usr/bin/qemu-aarch64-static:F" \
    >"$dir/register"
}
bb_binfmt_off() {
  local dir=/proc/sys/fs/binfmt_misc e
  [ -e "$dir/$BB_BINFMT" ] && echo -1 >"$dir/$BB_BINFMT"
  for e in "${BB_BINFMT_DISABLED[@]}"; do echo 1 >"$e" || true; done
  BB_BINFMT_DISABLED=()
}

# bb_golang_arm64: an arm64 Go builder stand-in (Alpine aarch64 + the official
# linux-arm64 toolchain from the module proxy). Prints DIR@DIGEST.
bb_golang_arm64() {
  local gover tc ctx rootfs
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
  rootfs="$(find "$ALPINE_ROOTFS_DIR" -maxdepth 1 -name 'alpine-minirootfs-*-aarch64.tar.gz' | sort | tail -n1)"
  [ -n "$rootfs" ] || die "no aarch64 minirootfs in $ALPINE_ROOTFS_DIR"
  cp "$rootfs" "$ctx/rootfs-arm64.tar.gz"
  cp /etc/ssl/certs/ca-certificates.crt "$ctx/"
  bk_go_standin_dockerfile >"$ctx/Dockerfile"
  { cat "$ctx/Dockerfile" /etc/ssl/certs/ca-certificates.crt; sha256sum <"$rootfs"; echo "$gover ${GOPROXY:-} ${GOFLAGS:-}"; } >"$ctx.key"
  bk_standin golang-arm64 "$ctx.key" "$ctx" --opt platform=linux/arm64 \
    --local "goroot=$tc" --opt context:goroot=local:goroot \
    --opt "build-arg:GOPROXY=${GOPROXY:-}" --opt "build-arg:GOFLAGS=${GOFLAGS:-}"
}

# bb_emulated OUT.tar: scripts/bench/Dockerfile.emulated for linux/arm64 only.
bb_emulated() {
  local out="$1" golang_name alpine_name gv
  golang_name="$(bb_context_name golang:)"
  alpine_name="$(bb_context_name alpine:)"
  gv="${golang_name#golang:}"
  (cd "$WORK/repo" && buildx build --progress=plain --platform linux/arm64 \
    -f "$BENCH/Dockerfile.emulated" \
    --build-arg "GO_VERSION=${gv%%-alpine*}" --build-arg "ALPINE_VERSION=${alpine_name#alpine:}" \
    --build-arg "MAIN_PKG=$SERVER_DIR" \
    --build-context "$golang_name=oci-layout://$BB_GOLANG_ARM64" \
    --build-context "$alpine_name=$(bb_context "$alpine_name")" \
    --build-context "docker/dockerfile:1=$(bb_context docker/dockerfile:1)" \
    --output "type=oci,dest=$out" .)
}

# bb_rm_root DIR: remove a buildkitd root after the daemon stopped. A daemon
# stopped mid-build can leave its container and cache mounts behind: unmount
# them (deepest first) and never let rm cross into a mount.
bb_rm_root() {
  local dir="$1" m
  awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
  done
  rm -rf --one-file-system "$dir"
}

bench_buildkit() {
  local bkroot
  bk_tools
  # A fresh buildkitd root: the cold build really starts from nothing, and no
  # other buildkitd's state (scripts/build-image's) is touched.
  mkdir -p "$FIBER_CACHE_DIR"
  bkroot="$(mktemp -d "$FIBER_CACHE_DIR/bench-buildkit.XXXXXX")"
  bk_on_exit "bb_rm_root '$bkroot'"
  BK_DAEMON_ROOT="$bkroot" bk_start "$bkroot"
  bk_standins

  # The repository copy the builds run in (only what the build context uses).
  mkdir -p "$WORK/repo"
  (cd "$ROOT" && tar -cf - go.mod go.sum app Dockerfile docker-bake.hcl .dockerignore) | tar -xf - -C "$WORK/repo"

  if want build; then
    bb_prune
    bb_build cold "both platforms, empty cache" bb_bake "$WORK/cold.tar"
    want image && bb_image_sizes "$WORK/cold.tar"
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
      { tail -n 40 "$WORK/build-image.log" >&2; die "image build failed (log above)"; }
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
    BB_GOLANG_ARM64="$(bb_golang_arm64)"
    bb_binfmt_on
    bb_prune
    BB_TIMEOUT="$timeout" bb_build emulated-arm64 \
      "linux/arm64 only, empty cache, scripts/bench/Dockerfile.emulated (QEMU)" bb_emulated "$WORK/emulated.tar"
    bb_binfmt_off
  fi
  bk_stop
}
