//go:build tools

// Package tools pins the BuildKit and buildx versions that the offline image
// build (scripts/lib/buildkit.sh) compiles from source. The Dockerfile
// frontend is pinned apart, in ./frontend, at the release the Dockerfile's
// syntax line names. `go install pkg@v` is
// refused for these modules because their go.mod files carry exclude
// directives, so they are built from this module with `go build`.
package tools

import (
	_ "github.com/docker/buildx/cmd/buildx"
	_ "github.com/moby/buildkit/cmd/buildctl"
	_ "github.com/moby/buildkit/cmd/buildkitd"
)
