//go:build unix

package app

import (
	"os"
	"os/signal"
	"syscall"
)

// onProfileSignal calls next on every SIGUSR1 until stop is called.
func onProfileSignal(next func()) (stop func()) {
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGUSR1)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-signals:
				next()
			case <-done:
				return
			}
		}
	}()
	return func() { signal.Stop(signals); close(done) }
}
