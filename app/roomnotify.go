package app

import (
	"errors"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/lang"
	"mellium.im/xmpp/jid"

	"magpie/xmpp"
)

// Room notifications. The core says whether a message mentions the user
// (RoomMessage.Mention, xmpp.Mentions) and keeps each room's level (all
// messages, mentions only, none); the app raises a desktop notification
// from both, so that a mention gets through a room muted for ordinary
// messages, and highlights mentions in the room tab.

// roomNotifyWanted reports whether a live message of someone else in room
// deserves a desktop notification at the room's level.
func roomNotifyWanted(level xmpp.NotifyLevel, mention bool) bool {
	switch level {
	case xmpp.NotifyNone:
		return false
	case xmpp.NotifyMentions:
		return mention
	}
	return true
}

// notifyRoomMessage raises a desktop notification for a live room message
// the user is not reading, as the room's level and do-not-disturb allow.
func (c *controller) notifyRoomMessage(e xmpp.RoomMessage, mention bool) {
	if c.client == nil || !c.notificationsWanted() || !roomNotifyWanted(c.client.RoomNotify(e.Room), mention) {
		return
	}
	room := c.roomTitle(e.Room)
	args := map[string]any{"Nick": e.Nick, "Room": room}
	title, key, collapsed := lang.L("{{.Nick}} in {{.Room}}", args), "room:"+e.Room.String(), room
	if mention {
		// Mentions are collapsed apart: they get through a muted room.
		title, key = lang.L("{{.Nick}} mentioned you in {{.Room}}", args), "mention:"+e.Room.String()
		collapsed = lang.L("Mentions in {{.Room}}", args)
	}
	// A nick is anyone's to choose: no check mark (see noticemark.go).
	c.notes().add(key, withoutCheckMarks(title), notificationText(withoutCheckMarks(e.Body)), withoutCheckMarks(collapsed))
}

// roomNotifyItem is the "Notifications" submenu of a room's menus: the
// three levels, the room's own ticked.
func (c *controller) roomNotifyItem(room jid.JID, parent fyne.Window) *fyne.MenuItem {
	item := fyne.NewMenuItem(lang.L("Notifications"), nil)
	if c.client == nil {
		item.Disabled = true
		return item
	}
	current := c.client.RoomNotify(room)
	item.ChildMenu = fyne.NewMenu("")
	for _, choice := range []struct {
		level xmpp.NotifyLevel
		label string
	}{
		{xmpp.NotifyAll, lang.L("All messages")},
		{xmpp.NotifyMentions, lang.L("Only when mentioned")},
		{xmpp.NotifyNone, lang.L("None")},
	} {
		item.ChildMenu.Items = append(item.ChildMenu.Items, &fyne.MenuItem{Label: choice.label, Checked: current == choice.level,
			Action: func() { c.setRoomNotify(room, choice.level, parent) }})
	}
	return item
}

// setRoomNotify stores a room's level (a local setting: nothing goes to
// the server).
func (c *controller) setRoomNotify(room jid.JID, level xmpp.NotifyLevel, parent fyne.Window) {
	if c.client == nil {
		return
	}
	if err := c.client.SetRoomNotify(room, level); err != nil {
		dialog.ShowError(errors.New(lang.L("The notification setting could not be saved: {{.Error}}", map[string]any{"Error": err.Error()})), parent)
	}
}
