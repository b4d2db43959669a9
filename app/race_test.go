//go:build race

package app

func init() { raceEnabled = true }
