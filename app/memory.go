package app

import (
	"os"
	"runtime/debug"
)

// memoryLimit is the Go heap size past which the garbage collector works
// harder and returns freed memory to the system at once (a soft limit: the
// heap may grow past it, at a bounded cost in CPU). Without it the heap
// may grow to twice what is live before a collection, and the process
// keeps the freed pages for minutes: with a 20,000-contact roster the app
// peaked at 288 MB resident, and at 252 MB with the limit
// (BenchmarkAppMemory, docs/PERFORMANCE.md).
const memoryLimit = 80 << 20

// limitMemory sets memoryLimit unless GOMEMLIMIT chooses another.
func limitMemory() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
}
