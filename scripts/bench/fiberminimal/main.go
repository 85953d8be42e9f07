// Command fiberminimal is a benchmark baseline: the smallest Fiber v2 program
// that serves the same two routes, with the same bodies, as the real service.
// It has no middleware, no logging and no configuration beyond PORT.
package main

import (
	"log"
	"os"

	"github.com/gofiber/fiber/v2"
)

var (
	rootBody   = []byte(`{"key":"key","value":"value"}`)
	healthBody = []byte(`{"key":"healthy","value":"healthy"}`)
)

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Get("/", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return c.Send(rootBody)
	})
	app.Get("/health", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return c.Send(healthBody)
	})
	log.Fatal(app.Listen(":" + port))
}
