package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"magpie/xmpp"
)

// printer writes events for `magpie listen`: one JSON object per line, or a
// line of text for people.
type printer struct {
	mu     sync.Mutex
	w      io.Writer
	asJSON bool
}

func newPrinter(w io.Writer, asJSON bool) *printer { return &printer{w: w, asJSON: asJSON} }

// eventFields turns an event into its JSON object. Every object has "type";
// messages have "from", "to", "body", "id" and "time" as well.
func eventFields(e xmpp.Event) map[string]any {
	message := func(typ string, m xmpp.Message) map[string]any {
		f := map[string]any{
			"type": typ, "id": m.ID, "from": m.From.String(), "to": m.To.String(),
			"body": m.Body, "time": m.Time.UTC().Format(time.RFC3339Nano),
		}
		if m.Subject != "" {
			f["subject"] = m.Subject
		}
		if m.Thread != "" {
			f["thread"] = m.Thread
		}
		if m.OriginID != "" {
			f["origin_id"] = m.OriginID
		}
		if m.StanzaID != "" {
			f["stanza_id"] = m.StanzaID
		}
		if m.Delayed {
			f["delayed"] = true
		}
		if m.Outgoing {
			f["outgoing"] = true
		}
		if m.Carbon {
			f["carbon"] = true
		}
		if m.Archived {
			f["archived"] = true
		}
		return f
	}
	if f, ok := roomEventFields(e); ok {
		return f
	}
	switch e := e.(type) {
	case xmpp.StateChanged:
		f := map[string]any{"type": "state", "state": e.State.String()}
		if e.Err != nil {
			f["error"] = e.Err.Error()
		}
		if e.RetryIn > 0 {
			f["retry_in_ms"] = e.RetryIn.Milliseconds()
		}
		return f
	case xmpp.MessageReceived:
		return message("message", e.Message)
	case xmpp.NoticeReceived:
		return noticeFields(e.Notice)
	case xmpp.MessageFailed:
		return map[string]any{"type": "message_failed", "id": e.ID, "to": e.To.String(), "error": e.Err.Error()}
	case xmpp.PresenceChanged:
		return map[string]any{"type": "presence", "from": e.From.String(), "available": e.Available(),
			"show": string(e.Show), "status": e.Status, "priority": e.Priority}
	case xmpp.SubscriptionRequest:
		return map[string]any{"type": "subscribe", "from": e.From.String(), "status": e.Status}
	case xmpp.SubscriptionChanged:
		return map[string]any{"type": "subscription", "from": e.From.String(), "change": e.Type}
	case xmpp.RosterUpdated:
		contacts := make([]map[string]any, 0, len(e.Contacts))
		for _, ct := range e.Contacts {
			contacts = append(contacts, map[string]any{"jid": ct.JID.String(), "name": ct.Name, "groups": ct.Groups,
				"subscription": ct.Subscription, "pending": ct.Pending, "removed": ct.Removed})
		}
		return map[string]any{"type": "roster", "full": e.Full, "contacts": contacts}
	case xmpp.ErrorOccurred:
		return map[string]any{"type": "error", "error": e.Err.Error()}
	case xmpp.MessageStateChanged:
		return map[string]any{"type": "delivery", "id": e.ID, "peer": e.Peer.String(), "state": e.State.String()}
	case xmpp.HistorySynced:
		f := map[string]any{"type": "history_synced", "added": e.Added}
		if e.Err != nil {
			f["error"] = e.Err.Error()
		}
		return f
	}
	return map[string]any{"type": fmt.Sprintf("%T", e)}
}

func (p *printer) event(e xmpp.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.asJSON {
		b, err := json.Marshal(eventFields(e))
		if err == nil {
			fmt.Fprintf(p.w, "%s\n", b)
		}
		return
	}
	now := time.Now().Format("15:04:05")
	if line := roomEventText(e, now); line != "" {
		fmt.Fprintln(p.w, line)
		return
	}
	switch e := e.(type) {
	case xmpp.StateChanged:
		line := now + " -- " + e.State.String()
		if e.Err != nil {
			line += ": " + e.Err.Error()
		}
		if e.RetryIn > 0 {
			line += fmt.Sprintf(" (next try in %v)", e.RetryIn.Round(time.Millisecond))
		}
		fmt.Fprintln(p.w, line)
	case xmpp.MessageReceived:
		if e.Outgoing {
			fmt.Fprintf(p.w, "%s <%s -> %s> %s\n", e.Time.Local().Format("15:04:05"), e.From, e.To, continued(e.Body))
			return
		}
		fmt.Fprintf(p.w, "%s <%s> %s\n", e.Time.Local().Format("15:04:05"), e.From, continued(e.Body))
	case xmpp.NoticeReceived:
		when := e.Time.Local().Format("15:04:05")
		if e.Delayed {
			when = e.Time.Local().Format("2006-01-02 15:04:05")
		}
		kind := e.Sender.String()
		if e.Sender == xmpp.NoticeUnverified {
			kind = "UNVERIFIED"
		}
		fmt.Fprintf(p.w, "%s [%s notice from %s] %s%s\n", when, kind, e.From, continued(subjectPrefix(e.Subject)), continued(e.Body))
	case xmpp.MessageFailed:
		fmt.Fprintf(p.w, "%s !! message %s to %s not delivered: %v\n", now, e.ID, e.To, e.Err)
	case xmpp.PresenceChanged:
		word := "offline"
		if e.Available() {
			word = string(e.Show)
			if word == "" {
				word = "available"
			}
		}
		line := fmt.Sprintf("%s -- %s is %s", now, e.From, word)
		if e.Status != "" {
			line += ": " + continued(e.Status)
		}
		fmt.Fprintln(p.w, line)
	case xmpp.SubscriptionRequest:
		fmt.Fprintf(p.w, "%s -- %s asks to see your presence\n", now, e.From)
	case xmpp.SubscriptionChanged:
		fmt.Fprintf(p.w, "%s -- %s: %s\n", now, e.From, e.Type)
	case xmpp.RosterUpdated:
		if e.Full {
			fmt.Fprintf(p.w, "%s -- roster: %d contacts\n", now, len(e.Contacts))
			return
		}
		for _, ct := range e.Contacts {
			fmt.Fprintf(p.w, "%s -- roster: %s %s\n", now, ct.JID, ct.Subscription)
		}
	case xmpp.ErrorOccurred:
		fmt.Fprintf(p.w, "%s !! %v\n", now, e.Err)
	case xmpp.MessageStateChanged:
		fmt.Fprintf(p.w, "%s -- message %s to %s: %s\n", now, e.ID, e.Peer, e.State)
	case xmpp.HistorySynced:
		if e.Err != nil {
			fmt.Fprintf(p.w, "%s !! history catch-up: %v\n", now, e.Err)
		} else if e.Added > 0 {
			fmt.Fprintf(p.w, "%s -- %d messages caught up from the archive\n", now, e.Added)
		}
	}
}

func subjectPrefix(s string) string {
	if s == "" {
		return ""
	}
	return "(" + s + ") "
}
