package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"mellium.im/xmpp/jid"

	"magpie/xmpp"
)

// sendToRoom is `send --room`: join the room, send, wait for the room's
// echo (which says it has the message), leave.
func sendToRoom(env *Env, cf *connFlags, roomArg, nick string, words []string) int {
	room, err := jid.Parse(roomArg)
	if err != nil || room.Localpart() == "" || room.Resourcepart() != "" {
		return fail(env, cf.jid, usageError(fmt.Sprintf("--room %q is not a room (ROOM@SERVICE)", roomArg)))
	}
	if cf.passwordStdin && len(words) == 0 {
		return fail(env, cf.jid, usageError("with --password-stdin the text must be given as arguments"))
	}
	cfg, pw, err := cf.credentials(env)
	if err != nil {
		return fail(env, cf.jid, err)
	}
	body, err := messageText(env, words)
	if err != nil {
		return fail(env, cfg.JID, err)
	}
	if nick == "" {
		nick = jid.MustParse(cfg.JID).Localpart()
	}
	c, closeAll, err := connectQuietly(env, cf, cfg, pw)
	if err != nil {
		return fail(env, cfg.JID, err)
	}
	defer closeAll()
	ctx, cancel := context.WithTimeout(env.ctx, 30*time.Second)
	defer cancel()
	// No history: a one-off send has no use for it.
	if err := c.JoinRoom(ctx, room, nick, xmpp.WithRoomHistory(0)); err != nil {
		if errors.Is(err, xmpp.ErrNickConflict) {
			return fail(env, cfg.JID, fmt.Errorf("the nick %q is taken in %s; choose another with --nick", nick, room))
		}
		return fail(env, cfg.JID, fmt.Errorf("could not enter %s: %w", room, err))
	}
	id, err := c.SendRoomMessage(ctx, room, body)
	if err != nil {
		return fail(env, cfg.JID, err)
	}
	for {
		select {
		case e := <-c.Events():
			switch e := e.(type) {
			case xmpp.MessageStateChanged:
				if e.ID == id && e.State == xmpp.DeliverySent {
					_ = c.LeaveRoom(ctx, room)
					return ExitOK
				}
			case xmpp.MessageFailed:
				if e.ID == id {
					return fail(env, cfg.JID, fmt.Errorf("the room %s refused the message: %v", room, e.Err))
				}
			case xmpp.RoomLeft:
				if e.Room.Equal(room) {
					return fail(env, cfg.JID, fmt.Errorf("removed from %s before the message was confirmed (%s)", room, e.Reason))
				}
			}
		case <-ctx.Done():
			return fail(env, cfg.JID, fmt.Errorf("the room %s did not confirm the message: %w", room, ctx.Err()))
		}
	}
}

// runRooms lists the bookmarked rooms and the rooms of the server's group
// chat service.
func runRooms(env *Env, args []string) int {
	var cf connFlags
	fs := newFlagSet(env, "rooms", &cf, true)
	asJSON := fs.Bool("json", false, "one JSON object per room and line")
	if !parse(fs, args) {
		return ExitUsage
	}
	if fs.NArg() > 0 {
		return fail(env, cf.jid, usageError("rooms takes no arguments besides flags"))
	}
	c, closeAll, account, err := signInQuietly(env, &cf)
	if err != nil {
		return fail(env, account, err)
	}
	defer closeAll()
	ctx, cancel := context.WithTimeout(env.ctx, 30*time.Second)
	defer cancel()
	marks, err := c.Bookmarks(ctx)
	if err != nil {
		return fail(env, account, err)
	}
	var service jid.JID
	var rooms []xmpp.RoomInfo
	service, err = c.RoomService(ctx)
	switch {
	case errors.Is(err, xmpp.ErrNoRoomService):
	case err != nil:
		return fail(env, account, err)
	default:
		if rooms, err = c.ListRooms(ctx, service); err != nil {
			return fail(env, account, err)
		}
	}
	bookmarked := map[string]bool{}
	for _, b := range marks {
		bookmarked[b.Room.String()] = true
	}
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetEscapeHTML(false)
		for _, b := range marks {
			// The password stays out: this output ends up in scripts and logs.
			_ = enc.Encode(map[string]any{"type": "bookmark", "room": b.Room.String(), "name": b.Name,
				"autojoin": b.Autojoin, "nick": b.Nick})
		}
		for _, r := range rooms {
			_ = enc.Encode(map[string]any{"type": "room", "room": r.JID.String(), "name": r.Name,
				"service": service.String(), "bookmarked": bookmarked[r.JID.String()]})
		}
		return ExitOK
	}
	w := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	if len(marks) == 0 {
		fmt.Fprintln(w, "No bookmarked rooms.")
	} else {
		fmt.Fprintln(w, "Bookmarks")
		for _, b := range marks {
			flags := ""
			if b.Autojoin {
				flags = "autojoin"
			}
			fmt.Fprintf(w, "  %s\t%s\t%s\t%s\n", b.Room, b.Name, b.Nick, flags)
		}
	}
	switch {
	case service.String() == "":
		fmt.Fprintln(w, "This server has no group chat service.")
	case len(rooms) == 0:
		fmt.Fprintf(w, "No public rooms on %s.\n", service)
	default:
		fmt.Fprintf(w, "Rooms on %s\n", service)
		for _, r := range rooms {
			mark := ""
			if bookmarked[r.JID.String()] {
				mark = "*"
			}
			fmt.Fprintf(w, "  %s\t%s\t%s\n", r.JID, r.Name, mark)
		}
	}
	_ = w.Flush()
	return ExitOK
}

// roomEventFields are the JSON objects of group chat events for listen.
func roomEventFields(e xmpp.Event) (map[string]any, bool) {
	switch e := e.(type) {
	case xmpp.RoomMessage:
		f := map[string]any{"type": "groupchat", "room": e.Room.String(), "nick": e.Nick, "body": e.Body,
			"id": e.ID, "time": e.Time.UTC().Format(time.RFC3339Nano)}
		if e.Delayed {
			f["delayed"] = true
		}
		if e.Outgoing {
			f["outgoing"] = true
		}
		if e.StanzaID != "" {
			f["stanza_id"] = e.StanzaID
		}
		return f, true
	case xmpp.RoomJoined:
		return map[string]any{"type": "room_joined", "room": e.Room.String(), "nick": e.Nick,
			"occupants": len(e.Occupants), "rejoin": e.Rejoin}, true
	case xmpp.RoomLeft:
		f := map[string]any{"type": "room_left", "room": e.Room.String(), "reason": string(e.Reason)}
		if e.Text != "" {
			f["text"] = e.Text
		}
		if e.Err != nil {
			f["error"] = e.Err.Error()
		}
		return f, true
	case xmpp.RoomSubject:
		return map[string]any{"type": "room_subject", "room": e.Room.String(), "nick": e.Nick, "subject": e.Subject}, true
	case xmpp.OccupantChanged:
		f := map[string]any{"type": "occupant", "room": e.Room.String(), "nick": e.Occupant.Nick,
			"role": e.Occupant.Role, "affiliation": e.Occupant.Affiliation, "self": e.Self}
		if e.NewNick != "" {
			f["new_nick"] = e.NewNick
		}
		if e.Left {
			f["left"], f["reason"] = true, string(e.Reason)
		}
		return f, true
	case xmpp.BookmarksChanged:
		changed := make([]string, 0, len(e.Changed))
		for _, b := range e.Changed {
			changed = append(changed, b.Room.String())
		}
		removed := make([]string, 0, len(e.Removed))
		for _, r := range e.Removed {
			removed = append(removed, r.String())
		}
		return map[string]any{"type": "bookmarks", "changed": changed, "removed": removed}, true
	}
	return nil, false
}

// roomEventText is the line listen prints for a group chat event, "" for
// none.
func roomEventText(e xmpp.Event, now string) string {
	switch e := e.(type) {
	case xmpp.RoomMessage:
		when := e.Time.Local().Format("15:04:05")
		if e.Delayed {
			when = e.Time.Local().Format("2006-01-02 15:04:05")
		}
		return fmt.Sprintf("%s [%s] <%s> %s", when, e.Room, e.Nick, continued(e.Body))
	case xmpp.RoomJoined:
		return fmt.Sprintf("%s -- joined %s as %s (%d others)", now, e.Room, e.Nick, len(e.Occupants))
	case xmpp.RoomLeft:
		line := fmt.Sprintf("%s -- left %s: %s", now, e.Room, e.Reason)
		if e.Text != "" {
			line += " (" + continued(e.Text) + ")"
		}
		if e.Err != nil {
			line += fmt.Sprintf(": %v", e.Err)
		}
		return line
	case xmpp.RoomSubject:
		return fmt.Sprintf("%s -- [%s] subject: %s", now, e.Room, continued(e.Subject))
	case xmpp.BookmarksChanged:
		return fmt.Sprintf("%s -- bookmarks changed (%d changed, %d removed)", now, len(e.Changed), len(e.Removed))
	}
	return ""
}
