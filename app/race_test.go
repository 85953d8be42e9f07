//go:build race

package app

// raceEnabled is true under -race, where sync.Pool drops items at random
// and the instrumentation allocates: allocation counts mean nothing there.
const raceEnabled = true
