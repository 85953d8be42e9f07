# shellcheck shell=bash
# QEMU user-mode emulation for arm64 programs (binfmt_misc), for running the
# arm64 image here. Building never needs it: nothing runs for the target
# platform. Functions only (no traps, no globals).

# binfmt_mount: mounts binfmt_misc if needed; prints "mounted" if it did.
binfmt_mount() {
	[[ -e "/proc/sys/fs/binfmt_misc/register" ]] && return 0
	mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || {
		fail "cannot mount binfmt_misc"
		return
	}
	echo mounted
}

# binfmt_aarch64_enabled: prints the enabled handlers for arm64 ELF programs.
binfmt_aarch64_enabled() {
	local e
	for e in "/proc/sys/fs/binfmt_misc"/*; do
		case "${e##*/}" in register | status) continue ;; esac
		grep -qx enabled "$e" 2>/dev/null &&
			grep -q 'magic 7f454c460201010000000000000000000200b700' "$e" && echo "$e"
	done
	return 0
}

# binfmt_disable ENTRY...: switches handlers off (echo 1 > ENTRY re-enables).
binfmt_disable() {
	local e
	for e; do echo 0 >"$e"; done
}

# binfmt_enable ENTRY...: switches handlers back on.
binfmt_enable() {
	local e
	for e; do [[ -e "$e" ]] && echo 1 >"$e"; done
	return 0
}

# binfmt_register_aarch64 NAME: registers qemu-aarch64-static for arm64 ELF
# programs as NAME, with flag F (the kernel opens the interpreter at once, so
# it works inside containers that do not have it). Magic and mask as in
# QEMU's qemu-binfmt-conf.sh.
binfmt_register_aarch64() {
	local name="$1"
	[[ -x /usr/bin/qemu-aarch64-static ]] || {
		fail "qemu-aarch64-static is missing (apt-get install qemu-user-static)"
		return
	}
	binfmt_remove "$name"
	printf '%s' ":$name:M::"'\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00'":"'\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff'":/usr/bin/qemu-aarch64-static:F" \
		>"/proc/sys/fs/binfmt_misc/register"
}

# binfmt_remove NAME: removes the handler NAME if it exists.
binfmt_remove() {
	[[ ! -e "/proc/sys/fs/binfmt_misc/$1" ]] || echo -1 >"/proc/sys/fs/binfmt_misc/$1"
}

# binfmt_entries: prints each registered binfmt_misc handler (name, then
# the first line of its entry: enabled or disabled) and the status line,
# whether or not binfmt_misc is mounted here. When it is not, it looks
# through a mount of its own in a private mount namespace (unshare), which
# ends with the command: the host's mounts stay as they were. Registrations
# outlive an unmount on kernels before 6.7 (and on any kernel while another
# mount namespace holds binfmt_misc), so a run that mounted binfmt_misc,
# registered and unmounted could leave one behind unseen at the usual path.
binfmt_entries() {
	if [[ -e /proc/sys/fs/binfmt_misc/register ]]; then
		binfmt_list
		return
	fi
	unshare --mount --propagation private bash -c "$(declare -f binfmt_list)
		mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc && binfmt_list"
}

# binfmt_list: binfmt_entries where binfmt_misc is mounted.
binfmt_list() {
	local e
	for e in /proc/sys/fs/binfmt_misc/*; do
		[[ -f "$e" && "${e##*/}" != register ]] && echo "${e##*/} $(head -n1 "$e")"
	done
	return 0
}
