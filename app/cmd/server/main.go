// Command server is the web service; see package app.
package main

import (
	"os"

	"github.com/example/fiber-service/app"
)

func main() {
	os.Exit(app.Main(os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr))
}
