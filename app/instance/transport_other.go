//go:build !windows

package instance

const defaultTransport = transportUnix
