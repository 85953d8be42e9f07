package main

import (
	"fmt"
	"strings"

	"golang.org/x/mod/semver"
)

// Moves is what the release of one version does to the image's tags.
type Moves struct {
	Version string   // the version's own tag, e.g. 1.2.5 (always pushed)
	Minor   string   // X.Y when it moves to this release, else ""
	Latest  bool     // whether latest moves to this release
	Why     []string // one line per floating tag: why it moves or stays
}

// Tags lists the image tags of m, version first.
func (m Moves) Tags() []string {
	tags := []string{m.Version}
	if m.Minor != "" {
		tags = append(tags, m.Minor)
	}
	if m.Latest {
		tags = append(tags, "latest")
	}
	return tags
}

// Rule decides which tags the release of version (a git tag vX.Y.Z or
// vX.Y.Z-pre) moves, given every release tag of the repository (git tags
// v*, in any order; the version itself may or may not be among them):
//
//   - X.Y.Z is always pushed;
//   - X.Y moves only when version is the highest release of X.Y;
//   - latest moves only when version is the highest release overall;
//   - a pre-release (X.Y.Z-rc.1) moves neither.
//
// Tags that are not versions (v1, vfoo, v1.2) are ignored; pre-releases never
// count as higher. So the outcome does not depend on which release finishes
// first: a backport 1.2.5 after 1.3.0 moves 1.2, never latest.
func Rule(version string, repoTags []string) (Moves, error) {
	if !isRelease(version) && !isPrerelease(version) {
		return Moves{}, fmt.Errorf("%q is not a release tag (vMAJOR.MINOR.PATCH or vMAJOR.MINOR.PATCH-PRERELEASE)", version)
	}
	m := Moves{Version: strings.TrimPrefix(version, "v")}
	minor := strings.TrimPrefix(semver.MajorMinor(version), "v")
	if isPrerelease(version) {
		m.Why = append(m.Why, fmt.Sprintf("%s and latest stay: %s is a pre-release", minor, m.Version))
		return m, nil
	}
	highest, highestInMinor := version, version
	for _, t := range repoTags {
		t = strings.TrimSpace(t)
		if !isRelease(t) {
			continue
		}
		if semver.Compare(t, highest) > 0 {
			highest = t
		}
		if semver.MajorMinor(t) == semver.MajorMinor(version) && semver.Compare(t, highestInMinor) > 0 {
			highestInMinor = t
		}
	}
	if highestInMinor == version {
		m.Minor = minor
		m.Why = append(m.Why, fmt.Sprintf("%s moves: %s is the highest release of %s", minor, m.Version, minor))
	} else {
		m.Why = append(m.Why, fmt.Sprintf("%s stays: %s is higher", minor, strings.TrimPrefix(highestInMinor, "v")))
	}
	if highest == version {
		m.Latest = true
		m.Why = append(m.Why, fmt.Sprintf("latest moves: %s is the highest release", m.Version))
	} else {
		m.Why = append(m.Why, fmt.Sprintf("latest stays: %s is higher", strings.TrimPrefix(highest, "v")))
	}
	return m, nil
}

// isRelease: vMAJOR.MINOR.PATCH exactly (no pre-release, no build suffix).
func isRelease(t string) bool {
	return semver.IsValid(t) && semver.Canonical(t) == t && semver.Prerelease(t) == ""
}

// isPrerelease: vMAJOR.MINOR.PATCH-PRERELEASE.
func isPrerelease(t string) bool {
	return semver.IsValid(t) && semver.Canonical(t) == t && semver.Prerelease(t) != ""
}
