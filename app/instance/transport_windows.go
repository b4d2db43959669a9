package instance

// Windows: loopback TCP with a token in a file only the user can read. (Go
// also speaks AF_UNIX there since Windows 10 1803, but the file mode bits
// that keep a socket private on Unix mean nothing on NTFS.)
const defaultTransport = transportTCP
