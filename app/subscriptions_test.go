package app

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
	"mellium.im/xmpp/jid"

	"magpie/xmpp"
	"magpie/xmpp/prosodytest"
)

// TestContactRequestsOnePrompt: many contact requests, from many people
// and repeated, are one prompt over the contacts window, not a dialog
// each.
func TestContactRequestsOnePrompt(t *testing.T) {
	c, _ := linkFixture(t)
	for i := range 30 {
		var batch []any // as the event pump hands them over
		for _, who := range []string{"mallory", "eve", fmt.Sprintf("bot%d", i)} {
			batch = append(batch, xmpp.SubscriptionRequest{From: jid.MustParse(who + "@oa.example"), Status: "add me " + fmt.Sprint(i)})
		}
		c.applyBatch(c.client, batch)
	}
	if n := len(c.main.win.Canvas().Overlays().List()); n != 1 {
		t.Fatalf("%d dialogs over the contacts window, want one prompt", n)
	}
	text := dialogTexts(c.main.win)
	for _, want := range []string{"Contact requests", "32 people want to add you as a contact.", "mallory@oa.example", "eve@oa.example", "bot29@oa.example",
		"“add me 29”", "[Accept all]", "[Deny all]", "[Later]"} {
		if !strings.Contains(text, want) {
			t.Errorf("the prompt lacks %q:\n%s", want, text)
		}
	}
	if r := c.main.requests; len(r.pending) != 32 || r.pending[0].Status != "add me 29" ||
		strings.Count(text, "mallory@oa.example") != strings.Count(text, "bot29@oa.example") {
		t.Errorf("a repeated request is not one line with its latest words:\n%s", text)
	}
}

// requestLine returns the buttons of who's line in the prompt.
func requestLine(t *testing.T, r *contactRequests, who jid.JID) (accept, deny *widget.Button) {
	t.Helper()
	for _, line := range r.list.Objects {
		var found bool
		var buttons []*widget.Button
		for _, o := range test.LaidOutObjects(line) {
			switch o := o.(type) {
			case *widget.Label:
				found = found || strings.Contains(o.Text, who.String())
			case *widget.Button:
				buttons = append(buttons, o)
			}
		}
		if found {
			for _, b := range buttons {
				switch b.Text {
				case "Accept":
					accept = b
				case "Deny":
					deny = b
				}
			}
			return accept, deny
		}
	}
	t.Fatalf("no line for %s", who)
	return nil, nil
}

// watchSubscriptions passes on the subscription events of client.
func watchSubscriptions(t *testing.T, client *xmpp.Client) <-chan xmpp.Event {
	t.Helper()
	out := make(chan xmpp.Event, 256)
	go func() {
		for e := range client.Events() {
			switch e.(type) {
			case xmpp.SubscriptionRequest, xmpp.SubscriptionChanged:
				select {
				case out <- e:
				default:
				}
			}
		}
	}()
	return out
}

// next returns the next event from events that matches, or fails.
func nextEvent[E xmpp.Event](t *testing.T, events <-chan xmpp.Event, what string, match func(E) bool) E {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case e := <-events:
			if ev, ok := e.(E); ok && match(ev) {
				return ev
			}
		case <-deadline:
			var zero E
			t.Fatalf("no %s (%T)", what, zero)
			return zero
		}
	}
}

// TestContactRequestsAnswered: real requests from two accounts, one of
// them asking fifty times, come as one prompt with a line each; Accept
// approves and adds the contact, Deny refuses, each seen by the asker;
// past maxPendingPrompts the oldest are dropped and counted; Later puts
// the prompt off, new requests then wait behind the button, which opens
// it again; Deny all answers the rest.
func TestContactRequestsAnswered(t *testing.T) {
	srv := prosodytest.Start(t, prosodytest.Options{})
	alice, bob, carol := connectTo(t, srv, "alice"), connectTo(t, srv, "bob"), connectTo(t, srv, "carol")
	aliceEvents, bobEvents, carolEvents := watchSubscriptions(t, alice), watchSubscriptions(t, bob), watchSubscriptions(t, carol)
	f := newProfileFixture(t, alice)
	c, w := f.c, f.c.main.win
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for range 50 {
		if err := bob.Subscribe(ctx, alice.Account()); err != nil {
			t.Fatal(err)
		}
	}
	if err := carol.Subscribe(ctx, alice.Account()); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		c.handle(nextEvent(t, aliceEvents, "a request", func(e xmpp.SubscriptionRequest) bool { return true }))
	}
	r := c.main.requests
	if n := len(w.Canvas().Overlays().List()); n != 1 || r.dlg == nil || len(r.pending) != 2 {
		t.Fatalf("%d dialogs, %d requests waiting; want one prompt with two", n, len(r.pending))
	}
	if r.button.Hidden || r.button.Text != "2 contact requests waiting" {
		t.Fatalf("the contacts window's button says %q (hidden %v)", r.button.Text, r.button.Hidden)
	}

	accept, _ := requestLine(t, r, bob.Account())
	test.Tap(accept)
	f.q.flush()
	nextEvent(t, bobEvents, "alice's approval", func(e xmpp.SubscriptionChanged) bool {
		return e.From.Equal(alice.Account()) && e.Type == "subscribed"
	})
	if _, ok := alice.Contact(bob.Account()); !ok {
		t.Fatal("accepting did not add bob to alice's contacts")
	}
	_, deny := requestLine(t, r, carol.Account())
	test.Tap(deny)
	f.q.flush()
	nextEvent(t, carolEvents, "alice's refusal", func(e xmpp.SubscriptionChanged) bool {
		return e.From.Equal(alice.Account()) && e.Type == "unsubscribed"
	})
	if r.dlg != nil || w.Canvas().Overlays().Top() != nil || !r.button.Hidden {
		t.Fatalf("with every request answered the prompt or the button is still up:\n%s", dialogTexts(w))
	}

	// A flood from many addresses, handed over as the event pump does (in
	// one batch): one prompt, the newest 100 kept.
	var flood []any
	for i := range 150 {
		flood = append(flood, xmpp.SubscriptionRequest{From: jid.MustParse(fmt.Sprintf("bot%03d@%s", i, srv.Domain))})
	}
	c.applyBatch(alice, flood)
	text := dialogTexts(w)
	if n := len(w.Canvas().Overlays().List()); n != 1 || len(r.pending) != maxPendingPrompts || len(r.list.Objects) != maxPendingPrompts {
		t.Fatalf("%d dialogs, %d waiting, %d lines", n, len(r.pending), len(r.list.Objects))
	}
	for _, want := range []string{"100 people want to add you as a contact.", "50 older requests were not kept", "bot149@", "bot050@"} {
		if !strings.Contains(text, want) {
			t.Errorf("the prompt lacks %q", want)
		}
	}
	if strings.Contains(text, "bot049@") {
		t.Error("the oldest request was kept")
	}
	test.Tap(findButton(w.Canvas().Overlays().Top(), "Later"))
	c.handle(xmpp.SubscriptionRequest{From: jid.MustParse("late@" + srv.Domain)})
	if w.Canvas().Overlays().Top() != nil {
		t.Fatal("a request after Later opened the prompt again")
	}
	if r.button.Text != "100 contact requests waiting" {
		t.Fatalf("the button says %q", r.button.Text)
	}
	test.Tap(r.button)
	if text := dialogTexts(w); !strings.Contains(text, "late@") || !strings.Contains(text, "51 older requests were not kept") {
		t.Fatalf("the button's prompt:\n%s", text)
	}
	test.Tap(findButton(w.Canvas().Overlays().Top(), "Deny all"))
	f.q.flush()
	if len(r.pending) != 0 || w.Canvas().Overlays().Top() != nil || !r.button.Hidden {
		t.Fatalf("after Deny all: %d waiting:\n%s", len(r.pending), dialogTexts(w))
	}
	c.main.win.Resize(fyne.NewSize(340, 640))
}

// TestInvitationFloodKeepsNewest: invitations from many rooms (each
// inviter within the core's limit) wait behind one prompt, at most
// maxPendingPrompts of them, the oldest dropped and counted, with one
// desktop notification for the lot.
func TestInvitationFloodKeepsNewest(t *testing.T) {
	c, _ := linkFixture(t)
	var notes []*fyne.Notification
	c.notifyHook = func(n *fyne.Notification) { notes = append(notes, n) }
	var flood []any
	for i := range 150 {
		flood = append(flood, xmpp.InvitationReceived{Room: jid.MustParse(fmt.Sprintf("room%03d@conference.oa.example", i)),
			From: jid.MustParse(fmt.Sprintf("bot%03d@oa.example", i)), Direct: true, Time: time.Now()})
	}
	c.applyBatch(c.client, flood)
	acts := c.groupActs
	if n := len(c.main.win.Canvas().Overlays().List()); n != 1 || acts.prompt == nil {
		t.Fatalf("%d dialogs over the contacts window, want one prompt", n)
	}
	if len(acts.pending) != maxPendingPrompts || acts.dropped != 49 {
		t.Fatalf("%d invitations waiting, %d dropped; want %d and 49", len(acts.pending), acts.dropped, maxPendingPrompts)
	}
	if !acts.prompt.inv.Room.Equal(jid.MustParse("room000@conference.oa.example")) || !acts.pending[0].Room.Equal(jid.MustParse("room050@conference.oa.example")) {
		t.Fatalf("the prompt shows %s, the oldest waiting is %s", acts.prompt.inv.Room, acts.pending[0].Room)
	}
	if text := dialogTexts(c.main.win); !strings.Contains(text, "100 more invitations waiting\n49 older invitations were not kept.") {
		t.Fatalf("the prompt does not count them:\n%s", text)
	}
	if len(notes) != 1 {
		t.Fatalf("%d desktop notifications for one flood", len(notes))
	}
}
