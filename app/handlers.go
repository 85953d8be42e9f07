package app

import (
	"encoding/json"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
)

// Bodies that never change are encoded once. The first two match the Rust
// template this service replaces byte for byte, so existing clients and
// load-balancer checks keep working.
var (
	rootBody      = []byte(`{"key":"key","value":"value"}`)
	healthyBody   = []byte(`{"key":"healthy","value":"healthy"}`)
	unhealthyBody = []byte(`{"key":"unhealthy","value":"shutting down"}`)
	liveBody      = []byte(`{"status":"live"}`)
	readyBody     = []byte(`{"status":"ready"}`)
	drainingBody  = []byte(`{"status":"shutting down"}`)
)

// handlers serve the endpoints listed in routes.go.
type handlers struct {
	draining    *atomic.Bool // set once shutdown begins
	versionBody []byte
	log         *slog.Logger // events, written at once
}

// maxDebugSleep caps /debug/sleep: long enough to outlast a drain (to watch
// SHUTDOWN_TIMEOUT run out), short enough that a forgotten request ends.
const maxDebugSleep = time.Minute

func sendJSON(c *fiber.Ctx, status int, body []byte) error {
	c.Status(status)
	c.Response().Header.SetContentType(fiber.MIMEApplicationJSON)
	return c.Send(body)
}

func (h *handlers) root(c *fiber.Ctx) error {
	return sendJSON(c, fiber.StatusOK, rootBody)
}

func (h *handlers) health(c *fiber.Ctx) error {
	if h.draining.Load() {
		return sendJSON(c, fiber.StatusServiceUnavailable, unhealthyBody)
	}
	return sendJSON(c, fiber.StatusOK, healthyBody)
}

// livez stays 200 while draining: the process is alive and must not be
// restarted, only taken out of rotation.
func (h *handlers) livez(c *fiber.Ctx) error {
	return sendJSON(c, fiber.StatusOK, liveBody)
}

func (h *handlers) readyz(c *fiber.Ctx) error {
	if h.draining.Load() {
		return sendJSON(c, fiber.StatusServiceUnavailable, drainingBody)
	}
	return sendJSON(c, fiber.StatusOK, readyBody)
}

func (h *handlers) version(c *fiber.Ctx) error {
	return sendJSON(c, fiber.StatusOK, h.versionBody)
}

// debugSleep holds a request open for ?d= (default 1s, at most
// maxDebugSleep), to watch a drain happen. It logs when the request has
// entered, so a drill (or a test) knows from the server itself that the
// request is in flight.
func (h *handlers) debugSleep(c *fiber.Ctx) error {
	d, err := debugSleepFor(c.Query("d"))
	if err != nil {
		return err
	}
	h.log.Info("debug sleep", "request_id", requestIDOf(c), "d", d.String())
	// A plain sleep, not cut short by shutdown: it stands for real work
	// that a drain has to wait for.
	time.Sleep(d)
	body, _ := json.Marshal(map[string]string{"slept": d.String()})
	return sendJSON(c, fiber.StatusOK, body)
}

// debugSleepFor reads /debug/sleep's ?d=: 1s when empty, else a duration
// from 0 to maxDebugSleep.
func debugSleepFor(q string) (time.Duration, error) {
	if q == "" {
		return time.Second, nil
	}
	d, err := time.ParseDuration(q)
	if err != nil || d < 0 || d > maxDebugSleep {
		return 0, fiber.NewError(fiber.StatusBadRequest, "d must be a duration from 0 to "+maxDebugSleep.String())
	}
	return d, nil
}

func (h *handlers) debugPanic(*fiber.Ctx) error {
	panic("debug panic requested")
}
