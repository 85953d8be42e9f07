// Command nethttp is a benchmark baseline: a standard-library net/http server
// that serves the same two routes, with the same bodies, as the real service.
package main

import (
	"log"
	"net/http"
	"os"
	"strconv"
)

var (
	rootBody   = []byte(`{"key":"key","value":"value"}`)
	healthBody = []byte(`{"key":"healthy","value":"healthy"}`)
)

func serve(body []byte) http.HandlerFunc {
	length := strconv.Itoa(len(body))
	return func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h["Content-Type"] = []string{"application/json"}
		h["Content-Length"] = []string{length}
		_, _ = w.Write(body)
	}
}

func main() {
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", serve(rootBody))
	mux.HandleFunc("GET /health", serve(healthBody))
	log.Fatal(http.ListenAndServe(":"+port, mux))
}
