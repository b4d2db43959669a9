package xmpp

import (
	"net"
	"syscall"
)

// quickAck asks Linux to acknowledge received data at once instead of
// delaying the ACK up to 40 ms. Servers that write a stream header and its
// features as separate segments with Nagle's algorithm on (Prosody does)
// otherwise stall each stream restart of the sign-in until the delayed ACK.
// Linux leaves quick-ack mode on its own, so it is set again before reads.
func quickAck(c net.Conn) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return
	}
	_ = raw.Control(func(fd uintptr) {
		_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
	})
}
