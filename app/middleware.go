package app

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
)

// requestIDs makes IDs unique across replicas (random per-process prefix)
// and cheap within one (a counter): no syscall or allocation per request.
type requestIDs struct {
	prefix [16]byte
	next   atomic.Uint64
}

func newRequestIDs() *requestIDs {
	var seed [8]byte
	_, _ = rand.Read(seed[:]) // never fails on Linux
	g := &requestIDs{}
	hex.Encode(g.prefix[:], seed[:])
	return g
}

// appendNew appends an ID such as 3f2a…9c-1a to dst.
func (g *requestIDs) appendNew(dst []byte) []byte {
	dst = append(dst, g.prefix[:]...)
	dst = append(dst, '-')
	return strconv.AppendUint(dst, g.next.Add(1), 16)
}

const maxRequestIDLen = 128

// validRequestID keeps IDs from upstream proxies (ALB, Envoy, nginx) while
// refusing anything that could break a log line or a header.
func validRequestID(id []byte) bool {
	if len(id) == 0 || len(id) > maxRequestIDLen {
		return false
	}
	for _, b := range id {
		ok := b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' ||
			b == '-' || b == '_' || b == '.' || b == ':' || b == '/' || b == '+' || b == '=' || b == '@'
		if !ok {
			return false
		}
	}
	return true
}

// set puts the request's ID on the response: the incoming one when
// it is sane, a new one otherwise.
func (g *requestIDs) set(c *fiber.Ctx) {
	id := c.Request().Header.Peek(fiber.HeaderXRequestID)
	if validRequestID(id) {
		c.Response().Header.SetBytesV(fiber.HeaderXRequestID, id)
		return
	}
	var buf [40]byte
	c.Response().Header.SetBytesV(fiber.HeaderXRequestID, g.appendNew(buf[:0]))
}

func requestIDOf(c *fiber.Ctx) string {
	return string(c.Response().Header.Peek(fiber.HeaderXRequestID))
}

func (g *requestIDs) middleware(draining *atomic.Bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		g.set(c)
		if draining.Load() {
			// Clients reconnect, and the load balancer picks another target.
			c.Context().SetConnectionClose()
		}
		return c.Next()
	}
}

// observe records each request the router sees, once its response is
// final: metrics (nil when METRICS_ADDR is empty) and the access line (nil
// when ACCESS_LOG=false). It renders errors itself, as Fiber's own logger
// does, so that both see the final status. The latency runs from when
// fasthttp read the request to now.
func observe(metrics *httpMetrics, access accessLogger) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if metrics != nil {
			metrics.inFlight.Add(1)
		}
		if err := c.Next(); err != nil {
			if herr := c.App().ErrorHandler(c, err); herr != nil {
				_ = c.SendStatus(fiber.StatusInternalServerError)
			}
		}
		now := time.Now()
		if metrics != nil {
			metrics.inFlight.Add(-1)
			// c.Route() is the last route that matched: the handler's, or
			// a middleware's when none did.
			metrics.routed(c.Route(), c.Method(), c.Response().StatusCode(), now.Sub(c.Context().Time()))
		}
		if access != nil {
			access.logRequest(c, now)
		}
		return nil
	}
}

// recoverPanics turns a panicking handler into a 500 and keeps serving.
func recoverPanics(log *slog.Logger) fiber.Handler {
	return func(c *fiber.Ctx) (err error) {
		defer func() {
			if r := recover(); r != nil {
				log.Error("panic in handler",
					"panic", fmt.Sprint(r),
					"request_id", requestIDOf(c),
					"method", c.Method(),
					"path", c.Path(),
					"stack", string(debug.Stack()))
				err = fiber.ErrInternalServerError
			}
		}()
		return c.Next()
	}
}
