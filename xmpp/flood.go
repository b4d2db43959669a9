package xmpp

import (
	"sync"
	"time"
)

// What strangers can make the client hold or report is bounded:
//
//   - Presence is kept only for contacts, the account's own resources and
//     the occupants of joined rooms; anyone else's is dropped unreported
//     (onPresence). Two hundred thousand presences from strangers grew the
//     client from 30 to 316 MB before.
//   - A subscription request is reported once per sender within
//     requestWindow, however often it is sent (the server sends pending
//     ones again at every sign-in).
//   - An invitation is reported once per room within
//     invitationDedupWindow, and at most invitationsPerInviter from one
//     inviter within it.
//
// The memory of what was reported is itself bounded (recentKeys): past
// maxRecentKeys, the oldest is forgotten, which at worst lets a repeat
// through.

// requestWindow is how long a reported subscription request swallows its
// repeats.
const requestWindow = 10 * time.Minute

// invitationsPerInviter is how many invitations one inviter can have
// reported within invitationDedupWindow.
const invitationsPerInviter = 5

// maxRecentKeys bounds each recentKeys.
const maxRecentKeys = 1000

// recentKeys remembers keys noted within a window, at most max of them,
// and counts the notes of each. It is safe for concurrent use; the zero
// value needs window and max set before use.
type recentKeys struct {
	window time.Duration
	max    int

	mu    sync.Mutex
	at    map[string]recentKey
	order []orderedKey // by the time each key was first noted, oldest first
}

type recentKey struct {
	first time.Time
	count int
}

type orderedKey struct {
	key   string
	first time.Time
}

// note records key at now and returns how many times it was noted within
// the window, this time included: 1 for a key not seen within it.
func (r *recentKeys) note(key string, now time.Time) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.at == nil {
		r.at = map[string]recentKey{}
	}
	r.expire(now)
	k, ok := r.at[key]
	if !ok {
		for len(r.at) >= r.max && len(r.order) > 0 {
			r.forgetOldest()
		}
		k = recentKey{first: now}
		r.order = append(r.order, orderedKey{key, now})
	}
	k.count++
	r.at[key] = k
	return k.count
}

// expire forgets the keys first noted longer than the window ago.
func (r *recentKeys) expire(now time.Time) {
	for len(r.order) > 0 && now.Sub(r.order[0].first) > r.window {
		r.forgetOldest()
	}
}

func (r *recentKeys) forgetOldest() {
	o := r.order[0]
	r.order[0] = orderedKey{}
	r.order = r.order[1:]
	if k, ok := r.at[o.key]; ok && k.first.Equal(o.first) {
		delete(r.at, o.key)
	}
	if len(r.order) == 0 {
		r.order = nil // let the backing array go
	}
}

// forget removes key, so that its next note counts 1 again.
func (r *recentKeys) forget(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.at, key) // its entry in order is skipped when it comes up
}

// len returns how many keys are remembered.
func (r *recentKeys) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.at)
}
