//go:build !(linux || freebsd || openbsd || netbsd || dragonfly || windows || darwin)

package app

// systemIdleSource: this platform has no input idle time Magpie can read;
// away follows activity in Magpie's own windows.
func systemIdleSource() (idleSource, error) { return nil, errNoIdleSource }
