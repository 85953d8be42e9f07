//go:build !race

package app

const raceEnabled = false // see race_test.go
