//go:build tools

// Package frontend pins the Dockerfile frontend that the offline build serves
// as docker/dockerfile:1.26, the release the Dockerfile's syntax line names:
// moby/buildkit's tag dockerfile/1.26.0 is the commit of its module version
// v0.32.0 (f5d08d5a04381687203ced27ef877e0c417fd122). It is a module of its
// own because ../go.mod pins BuildKit v0.34.2 for buildkitd and buildx, and
// one module holds one version of github.com/moby/buildkit.
package frontend

import (
	_ "github.com/moby/buildkit/frontend/dockerfile/cmd/dockerfile-frontend"
)
