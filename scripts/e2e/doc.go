// Package e2e holds the end-to-end tests of the container image and its
// tooling: the offline build, the Docker path (buildx with a private dockerd),
// the local registry, multi-platform pushes and pulls, and the image booted
// under runc and Docker for both architectures.
//
// The tests carry the build tag e2e and need root, Go, and the apt packages
// that scripts/test installs. They start their own registry, buildkitd and
// dockerd (through the shell functions in scripts/lib) and stop them at the
// end. Run them with scripts/test, or alone with
//
//	cd scripts/e2e && go test -tags e2e -timeout 40m -v .
package e2e
