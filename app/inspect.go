package app

import "github.com/gofiber/fiber/v2"

// What tools outside the service may ask of it: deploy/ checks its ECS task
// definitions and Kubernetes manifests against these, so a manifest cannot
// name a setting, a value or a path that the code does not accept.

// LoadConfig parses the environment that lookup gives, exactly as the program
// does at start: a refused value is a *ConfigError naming the variable.
func LoadConfig(lookup func(string) (string, bool)) (Config, error) {
	return loadConfig(lookup)
}

// SettingNames lists every environment variable the service reads, in the
// order `server help` prints them.
func SettingNames() []string {
	names := make([]string, len(settings))
	for i, s := range settings {
		names[i] = s.name
	}
	return names
}

// RoutePaths lists the paths the service answers with GET and HEAD in
// production (DEBUG_ROUTES off).
func RoutePaths() []string {
	return getPaths(false)
}

// AllRoutePaths lists every path the service can answer with GET and HEAD:
// those of RoutePaths and, with DEBUG_ROUTES on, the debug ones.
// scripts/docscheck holds the endpoints the pages name to it.
func AllRoutePaths() []string {
	return getPaths(true)
}

func getPaths(debugRoutes bool) []string {
	var paths []string
	for _, r := range routes(&handlers{}, debugRoutes) {
		if r.method == fiber.MethodGet {
			paths = append(paths, r.path)
		}
	}
	return paths
}
