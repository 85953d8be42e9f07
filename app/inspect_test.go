package app

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

// deploy/ trusts RoutePaths for its probe paths: each must be answered 200
// by the service as configured in production (no debug routes).
func TestRoutePathsAreServed(t *testing.T) {
	svc, _ := newTestService(t, nil)
	paths := RoutePaths()
	if len(paths) == 0 {
		t.Fatal("no routes")
	}
	for _, p := range paths {
		if resp, body := do(t, svc, http.MethodGet, p, nil); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d %s", p, resp.StatusCode, body)
		}
	}
}

// SettingNames is what `server help` prints, one line each.
func TestSettingNamesAreTheHelp(t *testing.T) {
	var help strings.Builder
	printSettings(&help)
	var listed []string
	for line := range strings.Lines(help.String()) {
		listed = append(listed, strings.Fields(line)[0])
	}
	if names := SettingNames(); !slices.Equal(names, listed) {
		t.Errorf("SettingNames() = %v, `server help` lists %v", names, listed)
	}
}
