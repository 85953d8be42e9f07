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

// AllRoutePaths adds the debug routes: each is routed (not 404) with
// DEBUG_ROUTES=true, and not routed without it.
func TestAllRoutePathsAreRouted(t *testing.T) {
	on, _ := newTestService(t, map[string]string{"DEBUG_ROUTES": "true"})
	off, _ := newTestService(t, nil)
	all := AllRoutePaths()
	for _, p := range RoutePaths() {
		if !slices.Contains(all, p) {
			t.Errorf("AllRoutePaths() = %v lacks %s of RoutePaths", all, p)
		}
	}
	for _, p := range all {
		target := p
		if p == "/debug/sleep" {
			target += "?d=0s"
		}
		if resp, body := do(t, on, http.MethodGet, target, nil); resp.StatusCode == http.StatusNotFound {
			t.Errorf("DEBUG_ROUTES=true: GET %s: 404 %s", target, body)
		}
		if !slices.Contains(RoutePaths(), p) {
			if resp, _ := do(t, off, http.MethodGet, target, nil); resp.StatusCode != http.StatusNotFound {
				t.Errorf("DEBUG_ROUTES off: GET %s: %d, want 404", target, resp.StatusCode)
			}
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
