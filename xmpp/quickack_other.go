//go:build !linux

package xmpp

import "net"

// quickAck is a Linux socket option; elsewhere there is nothing to do.
func quickAck(net.Conn) {}
