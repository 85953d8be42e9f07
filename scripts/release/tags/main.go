// Command tags prints the image tags that the release of one version moves,
// by rule (see Rule), from the repository's release tags read on stdin:
//
//	git tag --list 'v*' | go run ./tags -image ghcr.io/acme/fiber-service -version v1.2.5 -sha "$GITHUB_SHA"
//
// prints one REPOSITORY:TAG a line (the version, then X.Y and latest when
// they move, then sha-<7 hex> with -sha) and, on stderr, why each floating
// tag moves or stays. release.yml's merge job passes them to
// scripts/merge-platforms.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

var commitSHA = regexp.MustCompile(`^[0-9a-f]{40}$`)

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tags", flag.ContinueOnError)
	fs.SetOutput(stderr)
	image := fs.String("image", "", "image repository, e.g. ghcr.io/acme/fiber-service")
	version := fs.String("version", "", "the git tag being released, e.g. v1.2.5")
	sha := fs.String("sha", "", "the released commit (40 hex): adds the tag sha-<first 7>")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *image == "" || fs.NArg() != 0 {
		fmt.Fprintln(stderr, "tags: -image REPOSITORY and -version TAG are needed, and no arguments (tags come on stdin)")
		return 2
	}
	if *sha != "" && !commitSHA.MatchString(*sha) {
		fmt.Fprintf(stderr, "tags: -sha %q: want a full commit SHA (40 lower-case hex)\n", *sha)
		return 2
	}
	var repoTags []string
	sc := bufio.NewScanner(stdin)
	for sc.Scan() {
		repoTags = append(repoTags, sc.Text())
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintln(stderr, "tags: reading the repository's tags:", err)
		return 1
	}
	m, err := Rule(*version, repoTags)
	if err != nil {
		fmt.Fprintln(stderr, "tags: -version:", err)
		return 2
	}
	for _, why := range m.Why {
		fmt.Fprintln(stderr, "tags:", why)
	}
	tags := m.Tags()
	if *sha != "" {
		tags = append(tags, "sha-"+(*sha)[:7])
	}
	for _, t := range tags {
		fmt.Fprintf(stdout, "%s:%s\n", *image, t)
	}
	return 0
}
