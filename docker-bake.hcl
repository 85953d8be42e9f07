# docker buildx bake            -> image for linux/amd64 + linux/arm64 (add --push)
# docker buildx bake image-local -> host platform only, loaded into `docker images`
# docker buildx bake binaries    -> ./dist/<os>_<arch>/server
# docker buildx bake validate test
# Every variable can be set from the environment, e.g. TAG=1.2.3 docker buildx bake.

variable "REGISTRY" {
  # e.g. ghcr.io/acme or 123456789012.dkr.ecr.eu-west-1.amazonaws.com
  default = ""
}
variable "IMAGE" {
  default = "fiber-service"
}
variable "TAG" {
  default = "latest"
}
variable "VERSION" {
  default = "dev"
}
variable "COMMIT" {
  # CI sets it to the git SHA (GitHub Actions: GITHUB_SHA).
  default = GITHUB_SHA != "" ? GITHUB_SHA : "unknown"
}
variable "GITHUB_SHA" {
  default = ""
}
variable "SOURCE_URL" {
  default = "https://github.com/example/fiber-service"
}
variable "GO_VERSION" {
  default = "1.26"
}
variable "ALPINE_VERSION" {
  default = "3.23"
}
variable "PLATFORMS" {
  default = "linux/amd64,linux/arm64"
  # Comma-separated; spaces around the commas are fine ("linux/amd64, linux/arm64").
  # Each platform needs a runtime-<arch> stage in the Dockerfile.
  validation {
    condition     = length(setsubtract([for p in split(",", PLATFORMS) : trimspace(p)], SUPPORTED_PLATFORMS)) == 0
    error_message = "PLATFORMS=${PLATFORMS} names a platform with no runtime stage in the Dockerfile; supported: ${join(",", SUPPORTED_PLATFORMS)}"
  }
}
variable "SUPPORTED_PLATFORMS" {
  # The Dockerfile's runtime-<arch> stages.
  default = ["linux/amd64", "linux/arm64", "linux/arm/v7", "linux/arm/v6"]
}
variable "SOURCE_DATE_EPOCH" {
  # Seconds since 1970. Set (e.g. to the commit time) for reproducible builds:
  # it fixes the binary's buildTime, the created label and, with
  # rewrite-timestamp=true on the output, every file time in the layers.
  default = ""
}
variable "CACHE" {
  # "" = no external cache, "gha" = GitHub Actions cache,
  # anything else = registry repository for type=registry cache (mode=max),
  # what the release uses (docs/release.md).
  # One scope per platform set (cache_scope), so builds of one platform on
  # separate builders do not overwrite each other's cache.
  default = ""
}
variable "ATTESTATIONS" {
  # false: no provenance and no SBOM manifests in the index, for consumers
  # that reject the unknown/unknown entries (docker manifest, older registries
  # and serverless runtimes).
  default = true
}
variable "SBOM" {
  # false: provenance only. The SBOM generator is an image
  # (docker/buildkit-syft-scanner) the builder must be able to pull.
  default = true
}
variable "ALPINE_DIGEST" {
  # Optional base image pins, e.g. sha256:... ; empty = use the tag.
  default = ""
}
variable "GOLANG_DIGEST" {
  default = ""
}

function "image_repo" {
  params = []
  result = "${REGISTRY != "" ? "${REGISTRY}/" : ""}${IMAGE}"
}

# PLATFORMS as a list, spaces around the commas dropped.
function "platform_list" {
  params = []
  result = [for p in split(",", PLATFORMS) : trimspace(p) if trimspace(p) != ""]
}

function "image_ref" {
  params = [tag]
  result = "${image_repo()}:${tag}"
}

# The cache scope of a build of these platforms: image-linux-amd64 for one,
# image-linux-amd64-linux-arm64 for both on one builder. A scope is a
# type=registry tag (CACHE:SCOPE) or a type=gha scope.
function "cache_scope" {
  params = [platforms]
  result = "image-${join("-", [for p in platforms : replace(p, "/", "-")])}"
}

function "cache_entry" {
  params = [scope]
  result = CACHE == "gha" ? "type=gha,scope=${scope}" : "type=registry,ref=${CACHE}:${scope}"
}

# How a scope is written. ignore-error: a cache that cannot be written (a
# registry hiccup, the gha quota) costs the next build time, not this build.
# A registry cache is an OCI image manifest (image-manifest=true,
# oci-mediatypes=true): BuildKit's default since v0.21, stated so that an
# older builder writes the same; ECR refuses the index form.
function "cache_export" {
  params = []
  result = CACHE == "gha" ? "mode=max,ignore-error=true" : "mode=max,image-manifest=true,oci-mediatypes=true,ignore-error=true"
}

# What a build of these platforms reads: its own scope first, then the scope
# of each of its platforms and of all of PLATFORMS, so that a build can start
# from the cache of a build done the other way (split or not). Own scope
# first, because go mod download runs on the build platform and so is in
# every scope: with another platform's scope listed first, a fresh two-node
# builder took that step from it, found no go build of its own platform
# after it, and rebuilt one platform (scripts/e2e TestMultiNode).
function "cache_from" {
  params = [platforms]
  result = CACHE == "" ? [] : [
    for s in distinct(concat([cache_scope(platforms)], [for p in platforms : cache_scope([p])], [cache_scope(platform_list())])) : cache_entry(s)
  ]
}

# What a build of these platforms writes: its own scope only.
function "cache_to" {
  params = [platforms]
  result = CACHE == "" ? [] : ["${cache_entry(cache_scope(platforms))},${cache_export()}"]
}

group "default" {
  targets = ["image"]
}

group "ci" {
  targets = ["validate", "test"]
}

target "_common" {
  context    = "."
  dockerfile = "Dockerfile"
  args = {
    GO_VERSION     = GO_VERSION
    ALPINE_VERSION = ALPINE_VERSION
    VERSION        = VERSION
    COMMIT         = COMMIT
    SOURCE_URL     = SOURCE_URL
    # created label: from SOURCE_DATE_EPOCH when set, else now.
    BUILD_TIME = SOURCE_DATE_EPOCH != "" ? timeadd("1970-01-01T00:00:00Z", "${SOURCE_DATE_EPOCH}s") : timestamp()
    # null drops the arg, so BuildKit only sees SOURCE_DATE_EPOCH when set.
    SOURCE_DATE_EPOCH = SOURCE_DATE_EPOCH != "" ? SOURCE_DATE_EPOCH : null
  }
  # Base image pins: a named context replaces the FROM reference of that name.
  contexts = {
    for name, ref in {
      "alpine:${ALPINE_VERSION}"                    = ALPINE_DIGEST != "" ? "docker-image://alpine:${ALPINE_VERSION}@${ALPINE_DIGEST}" : ""
      "golang:${GO_VERSION}-alpine${ALPINE_VERSION}" = GOLANG_DIGEST != "" ? "docker-image://golang:${GO_VERSION}-alpine${ALPINE_VERSION}@${GOLANG_DIGEST}" : ""
    } : name => ref if ref != ""
  }
}

# Filled in by docker/metadata-action (tags, labels) in GitHub Actions when its
# bake file is passed to docker/bake-action; empty locally.
target "docker-metadata-action" {}

# Default tags; inherited before docker-metadata-action so its tags win.
target "_tags" {
  tags = [image_ref(TAG)]
}

# The cache every build of PLATFORMS reads. Not in _common: bake merges the
# cache-from lists of a target and of those it inherits, so a target that
# reads in another order (image-digest) must not inherit one.
target "_cache" {
  cache-from = cache_from(platform_list())
}

# The runtime image and its attestations.
target "_image" {
  target = "image"
  attest = [
    ATTESTATIONS ? "type=provenance,mode=max" : "type=provenance,disabled=true",
    ATTESTATIONS && SBOM ? "type=sbom" : "type=sbom,disabled=true",
  ]
}

target "image" {
  inherits  = ["_common", "_cache", "_image", "_tags", "docker-metadata-action"]
  platforms = platform_list()
  cache-to  = cache_to(platform_list())
  # With SOURCE_DATE_EPOCH, `--push` (which sets push=true on this output)
  # writes the same layer bytes, so the same digests, as image-digest and
  # scripts/build-image; without it, bake's default output.
  output = SOURCE_DATE_EPOCH != "" ? ["type=image,rewrite-timestamp=true"] : []
}

# The split build: one image per platform of PLATFORMS (image-digest-linux-amd64,
# ...), each pushed by digest only, so no tag moves and parallel builds do
# not race for one; scripts/merge-platforms then points the tag at an index
# of them. Run it per platform on separate builders (PLATFORMS=linux/arm64 on
# an arm64 machine), or once on a multi-node builder: each target lands on the
# node of its platform and writes the cache scope of its platform.
target "image-digest" {
  name      = "image-digest-${replace(platform, "/", "-")}"
  matrix    = { platform = platform_list() }
  inherits  = ["_common", "_image", "docker-metadata-action"]
  platforms = [platform]
  tags      = [image_repo()]
  # rewrite-timestamp: with SOURCE_DATE_EPOCH, the same layer bytes (and
  # manifest digests) as any other build of the commit.
  output     = ["type=image,push-by-digest=true,name-canonical=true,push=true${SOURCE_DATE_EPOCH != "" ? ",rewrite-timestamp=true" : ""}"]
  cache-from = cache_from([platform])
  cache-to   = cache_to([platform])
}

# Host platform only, into the local Docker image store (`docker run` works).
target "image-local" {
  inherits   = ["_common", "_cache", "_tags", "docker-metadata-action"]
  target     = "image"
  output     = ["type=docker"]
}

target "binaries" {
  inherits   = ["_common", "_cache"]
  target     = "binaries"
  platforms  = platform_list()
  # platform-split=true: dist/<os>_<arch>/server even for a single platform.
  output     = ["type=local,dest=./dist,platform-split=true"]
}

target "test" {
  inherits   = ["_common", "_cache"]
  target     = "test"
  output     = ["type=cacheonly"]
}

# Dockerfile build checks only (the Dockerfile sets check=error=true).
target "validate" {
  inherits = ["_common"]
  call     = "check"
}
