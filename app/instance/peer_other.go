//go:build !linux

package instance

import "net"

// checkPeer relies on the directory's permissions (Unix) or the token
// (Windows) on this system.
func checkPeer(net.Conn) error { return nil }
