package app

import (
	"fmt"
	"os"
	"runtime/pprof"
	"sync"
)

// cpuProfileEnv, when set, names a file prefix: the app writes a CPU
// profile (pprof) from its start to PREFIX.0, and each SIGUSR1 (where
// there is one) ends the current profile and starts the next (PREFIX.1,
// ...), so a benchmark can profile a sign-in and a burst apart. Off by
// default: nothing is written unless the variable is set.
const cpuProfileEnv = "MAGPIE_CPUPROFILE"

// cpuProfiler writes the numbered profiles.
type cpuProfiler struct {
	mu     sync.Mutex
	prefix string
	n      int
	file   *os.File
}

// startCPUProfile starts profiling when MAGPIE_CPUPROFILE is set; the
// returned function ends it.
func startCPUProfile() (stop func()) {
	prefix := os.Getenv(cpuProfileEnv)
	if prefix == "" {
		return func() {}
	}
	p := &cpuProfiler{prefix: prefix}
	p.next()
	stopSignals := onProfileSignal(p.next)
	return func() {
		stopSignals()
		p.mu.Lock()
		defer p.mu.Unlock()
		p.end()
	}
}

// next ends the current profile and starts the next one.
func (p *cpuProfiler) next() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.end()
	f, err := os.Create(fmt.Sprintf("%s.%d", p.prefix, p.n))
	if err != nil {
		fmt.Fprintln(os.Stderr, "magpie: CPU profile:", err)
		return
	}
	p.n++
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintln(os.Stderr, "magpie: CPU profile:", err)
		f.Close()
		return
	}
	p.file = f
}

func (p *cpuProfiler) end() {
	if p.file != nil {
		pprof.StopCPUProfile()
		p.file.Close()
		p.file = nil
	}
}
