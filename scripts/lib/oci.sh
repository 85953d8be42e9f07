# shellcheck shell=bash
# Reading an OCI image archive (as `--output type=oci,dest=FILE` writes it):
# its platforms, digests and sizes. Functions only (no traps, no globals);
# needs jq, tar, gzip.

# oci_manifests FILE: one line per image manifest of the archive's index
# (attestation manifests, platform unknown/unknown, skipped):
#   os/arch[/variant] manifest-digest
oci_manifests() {
	local file="$1" index
	index="$(tar -xOf "$file" index.json | jq -r '.manifests[0].digest')"
	tar -xOf "$file" "blobs/${index/://}" |
		jq -r '.manifests[] | select(.platform.os != "unknown")
			| "\(.platform.os)/\(.platform.architecture)\(if .platform.variant then "/" + .platform.variant else "" end) \(.digest)"'
}

# oci_uncompressed FILE DIGEST: the size of a gzip layer once unpacked.
oci_uncompressed() {
	tar -xOf "$1" "blobs/${2/://}" | gzip -dc | wc -c
}

# oci_platforms FILE: one line per image manifest (attestations skipped):
#   os/arch[/variant] manifest-digest compressed-bytes uncompressed-bytes
oci_platforms() {
	local file="$1" digest platform manifest layer comp uncomp
	oci_manifests "$file" |
		while read -r platform digest; do
			manifest="$(tar -xOf "$file" "blobs/${digest/://}")"
			comp="$(jq '[.config.size] + [.layers[].size] | add' <<<"$manifest")"
			uncomp=0
			for layer in $(jq -r '.layers[].digest' <<<"$manifest"); do
				uncomp=$((uncomp + $(oci_uncompressed "$file" "$layer")))
			done
			printf '%s %s %s %s\n' "$platform" "$digest" "$comp" "$uncomp"
		done
}

# oci_mb BYTES: human-readable size, e.g. 7.9 MB (10^6 bytes).
oci_mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1000000 }'; }
