package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"github.com/example/fiber-service/scripts/bench/results"
)

// measurements are the raw lines of one run of scripts/bench/run, by section.
type measurements struct {
	service  []results.ServiceRun
	memory   []results.MemRun
	connRSS  []results.ConnRSSRun
	connRuns []results.ConnRun
	startup  []results.StartupRun
	image    []results.ImagePlatform
	build    []results.BuildRun
}

// readRaw reads the raw file (one JSON object per line, each with a
// "section") and works out each wrk run's rates.
func readRaw(path string) (*measurements, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var m measurements
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		if err := m.add(line); err != nil {
			return nil, err
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for i := range m.service {
		rates(&m.service[i])
	}
	for i := range m.connRuns {
		rates(&m.connRuns[i].ServiceRun)
	}
	return &m, nil
}

// add decodes one raw line into the list of its section.
func (m *measurements) add(line []byte) error {
	var head struct {
		Section string `json:"section"`
	}
	if err := json.Unmarshal(line, &head); err != nil {
		return fmt.Errorf("raw line %q: %w", line, err)
	}
	var err error
	switch head.Section {
	case "service":
		m.service, err = appendDecoded(m.service, line)
	case "memory":
		m.memory, err = appendDecoded(m.memory, line)
	case "connections_rss":
		m.connRSS, err = appendDecoded(m.connRSS, line)
	case "connections_rps":
		m.connRuns, err = appendDecoded(m.connRuns, line)
	case "startup":
		m.startup, err = appendDecoded(m.startup, line)
	case "image":
		m.image, err = appendDecoded(m.image, line)
	case "build":
		m.build, err = appendDecoded(m.build, line)
	default:
		return fmt.Errorf("raw line with unknown section %q", head.Section)
	}
	return err
}

func appendDecoded[T any](list []T, line []byte) ([]T, error) {
	var v T
	if err := json.Unmarshal(line, &v); err != nil {
		return list, fmt.Errorf("raw line %q: %w", line, err)
	}
	return append(list, v), nil
}

// rates sets requests/s, server CPU share and CPU time per request of a run
// from its counts.
func rates(r *results.ServiceRun) {
	secs := float64(r.DurationUS) / 1e6
	r.RPS = round(float64(r.Requests)/secs, 1)
	if r.ClkTck > 0 {
		r.CPUPct = round(float64(r.CPUTicks)/float64(r.ClkTck)/secs*100, 1)
		if r.Requests > 0 {
			r.CPUPerReq = round(float64(r.CPUTicks)/float64(r.ClkTck)*1e6/float64(r.Requests), 2)
		}
	}
}
