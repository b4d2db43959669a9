package app

import (
	"reflect"
	"sync"
	"testing"
	"time"
)

// TestUIQueueCoalesces: items that trickle in one at a time while the UI is
// busy are applied together in its next turns, in order, at most
// maxEventBatch at a time; one that comes while the UI is idle is applied
// at once on its own.
func TestUIQueueCoalesces(t *testing.T) {
	turns := make(chan func(), 100)
	var (
		mu      sync.Mutex
		batches [][]any
	)
	q := &uiQueue{
		toUI: func(f func()) { turns <- f },
		apply: func(batch []any) {
			mu.Lock()
			batches = append(batches, append([]any(nil), batch...))
			mu.Unlock()
		},
	}
	const n = 5*maxEventBatch + 7
	for i := range n { // the UI runs nothing meanwhile: it is busy
		q.add(i)
	}
	if len(turns) != 1 {
		t.Fatalf("%d hand-overs queued for %d items, want 1", len(turns), n)
	}
	var got []any
	for len(got) < n {
		select {
		case f := <-turns:
			f()
		case <-time.After(5 * time.Second):
			t.Fatalf("stuck after %d of %d items", len(got), n)
		}
		mu.Lock()
		got = nil
		for _, b := range batches {
			if len(b) > maxEventBatch {
				t.Fatalf("a batch of %d", len(b))
			}
			got = append(got, b...)
		}
		mu.Unlock()
	}
	if len(batches) != 6 {
		t.Errorf("%d batches, want 6", len(batches))
	}
	for i, v := range got {
		if v != i {
			t.Fatalf("item %d is %v: out of order", i, v)
		}
	}

	// Idle again: the next item is handed over by itself, at once.
	batches = nil
	q.add("late")
	select {
	case f := <-turns:
		f()
	case <-time.After(5 * time.Second):
		t.Fatal("a late item was not handed over")
	}
	if !reflect.DeepEqual(batches, [][]any{{"late"}}) {
		t.Fatalf("batches %v", batches)
	}
}
