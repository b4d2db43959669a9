// Package keyringtest is a keyring in memory for tests, to see what a
// program keeps without touching the user's real keyring.
package keyringtest

import (
	"sync"

	gokeyring "github.com/zalando/go-keyring"
)

// Memory answers like go-keyring, from a map: gokeyring.ErrNotFound for
// what it does not hold. Its methods are safe for concurrent use; the zero
// value is an empty keyring.
type Memory struct {
	mu sync.Mutex
	m  map[string]string
}

// Get returns the password saved for user under service.
func (k *Memory) Get(service, user string) (string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if p, ok := k.m[service+"/"+user]; ok {
		return p, nil
	}
	return "", gokeyring.ErrNotFound
}

// Set saves password for user under service, replacing any earlier one.
func (k *Memory) Set(service, user, password string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.m == nil {
		k.m = map[string]string{}
	}
	k.m[service+"/"+user] = password
	return nil
}

// Delete forgets the password for user under service.
func (k *Memory) Delete(service, user string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.m[service+"/"+user]; !ok {
		return gokeyring.ErrNotFound
	}
	delete(k.m, service+"/"+user)
	return nil
}

// Has reports whether a password is saved for user under service.
func (k *Memory) Has(service, user string) bool {
	_, err := k.Get(service, user)
	return err == nil
}
