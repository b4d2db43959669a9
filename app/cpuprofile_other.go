//go:build !unix

package app

// onProfileSignal: without SIGUSR1 there is one profile, from start to end.
func onProfileSignal(func()) (stop func()) { return func() {} }
