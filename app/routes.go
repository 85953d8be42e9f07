package app

import (
	"strings"

	"github.com/gofiber/fiber/v2"
)

// route is one endpoint of the service.
type route struct {
	method  string
	path    string
	handler fiber.Handler
}

// routes lists every endpoint the service answers. A GET route answers HEAD
// too; any other method on a listed path gets 405 with an Allow header.
func routes(h *handlers, debugRoutes bool) []route {
	rs := []route{
		{fiber.MethodGet, "/", h.root},
		{fiber.MethodGet, "/health", h.health},
		{fiber.MethodGet, "/livez", h.livez},
		{fiber.MethodGet, "/readyz", h.readyz},
		{fiber.MethodGet, "/version", h.version},
	}
	if debugRoutes {
		rs = append(rs,
			route{fiber.MethodGet, "/debug/sleep", h.debugSleep},
			route{fiber.MethodGet, "/debug/panic", h.debugPanic},
		)
	}
	return rs
}

func registerRoutes(app *fiber.App, rs []route) {
	allowed := map[string][]string{}
	var paths []string
	for _, r := range rs {
		app.Add(r.method, r.path, r.handler)
		if _, seen := allowed[r.path]; !seen {
			paths = append(paths, r.path)
		}
		allowed[r.path] = append(allowed[r.path], r.method)
		if r.method == fiber.MethodGet {
			app.Add(fiber.MethodHead, r.path, r.handler)
			allowed[r.path] = append(allowed[r.path], fiber.MethodHead)
		}
	}
	// Registered after the real handlers, so it only sees the other methods.
	for _, p := range paths {
		app.All(p, methodNotAllowed(strings.Join(allowed[p], ", ")))
	}
}

func methodNotAllowed(allow string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderAllow, allow)
		return fiber.ErrMethodNotAllowed
	}
}
