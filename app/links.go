package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/lang"
	"fyne.io/fyne/v2/widget"
	"mellium.im/xmpp/jid"

	"magpie/app/instance"
	"magpie/xmpp/xmppuri"
)

// Deep links and a single instance: `magpie 'xmpp:zhangsan@oa.example?message;body=Hello'`
// (from a terminal, or from the browser through the desktop's
// x-scheme-handler/xmpp) opens the chat with the text in its entry. Only
// one Magpie runs per user: a later process hands its arguments to the
// running one (package instance) and exits, and the running one comes
// forward.

// handOverTimeout bounds a second process's wait for the running app.
const handOverTimeout = 10 * time.Second

// maxPendingLinks bounds the links kept while signed out.
const maxPendingLinks = 16

// debugEnv turns on the app's debug log on standard error.
const debugEnv = "MAGPIE_DEBUG"

// claimInstance makes this process the running Magpie, or hands args to the
// one that is: then handedOver is true and the process should exit. Without
// a usable instance directory Magpie runs anyway (inst is nil).
func claimInstance(args []string) (inst *instance.Instance, handedOver bool, err error) {
	dir := instance.DefaultDir()
	inst, err = instance.Acquire(dir)
	switch {
	case errors.Is(err, instance.ErrRunning):
		ctx, cancel := context.WithTimeout(context.Background(), handOverTimeout)
		defer cancel()
		if err := instance.HandOver(ctx, dir, args); err != nil {
			return nil, false, fmt.Errorf("another Magpie is running but did not take the arguments: %w", err)
		}
		return nil, true, nil
	case err != nil:
		fmt.Fprintln(os.Stderr, "magpie: running without the single-instance check:", err)
		return nil, false, nil
	}
	return inst, false, nil
}

// serveLinks applies the links Magpie was started with and those later
// processes hand over. The returned stop ends the hand-overs; call it when
// the app has quit, before anything is torn down.
func (c *controller) serveLinks(inst *instance.Instance, args []string) (stop func()) {
	if os.Getenv(debugEnv) != "" {
		c.log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if len(args) > 0 {
		c.openArgs(args)
	}
	if inst == nil {
		return func() {}
	}
	c.debug("single instance", "listening", inst.Addr())
	var stopped atomic.Bool
	go func() {
		err := inst.Serve(func(args []string) {
			if stopped.Load() {
				return
			}
			fyne.Do(func() {
				if !stopped.Load() { // fyne.Do runs at once once the app has quit
					c.debug("arguments handed over", "args", args)
					c.openArgs(args)
				}
			})
		})
		if err != nil {
			fyne.LogError("single instance", err)
		}
	}()
	return func() {
		stopped.Store(true)
		inst.Close()
	}
}

// debug logs to the debug log, when MAGPIE_DEBUG turned it on.
func (c *controller) debug(msg string, args ...any) {
	if c.log != nil {
		c.log.Debug(msg, args...)
	}
}

// openArgs handles the arguments of a start (this process's, or a later
// one's): each xmpp: link is applied, or kept until signed in; without a
// link Magpie just comes forward.
func (c *controller) openArgs(args []string) {
	handled := false
	for _, arg := range args {
		if !xmppuri.HasScheme(arg) {
			c.debug("argument ignored", "arg", arg)
			continue
		}
		handled = true
		u, err := xmppuri.Parse(arg)
		if err != nil {
			c.debug("xmpp link refused", "link", arg, "err", err)
			c.raise()
			c.showLinkProblem(lang.L("Cannot open the link"),
				lang.L("Magpie cannot open the link {{.Link}}: {{.Reason}}",
					map[string]any{"Link": arg, "Reason": strings.TrimPrefix(err.Error(), "xmppuri: ")}))
			continue
		}
		if c.client == nil || c.main == nil || c.pending != nil {
			if len(c.pendingLinks) == maxPendingLinks {
				c.pendingLinks = c.pendingLinks[1:]
			}
			c.pendingLinks = append(c.pendingLinks, u)
			c.debug("xmpp link kept until signed in", "link", u.String())
			c.raise()
			continue
		}
		c.applyLink(u)
	}
	if !handled {
		c.raise()
	}
}

// applyPendingLinks applies the links that came before sign-in.
func (c *controller) applyPendingLinks() {
	links := c.pendingLinks
	c.pendingLinks = nil
	for _, u := range links {
		c.applyLink(u)
	}
}

// applyLink does what a link asks, signed in. Nothing is sent on a link's
// word alone: a message waits in the entry, a contact in the add form.
func (c *controller) applyLink(u xmppuri.URI) {
	if u.Account.Domainpart() != "" {
		if own, err := jid.Parse(c.account.JID); err != nil || !own.Bare().Equal(u.Account.Bare()) {
			c.raise()
			c.showLinkProblem(lang.L("Link for another account"),
				lang.L("This link is meant for the account {{.Account}}, but you are signed in as {{.Current}}.",
					map[string]any{"Account": u.Account.String(), "Current": c.account.JID}))
			return
		}
	}
	to := u.To.Bare()
	switch u.Action {
	case xmppuri.ActionRoster, xmppuri.ActionSubscribe:
		if _, ok := c.client.Contact(to); ok {
			c.debug("xmpp link: already a contact", "to", to.String())
			c.openChat(to)
			return
		}
		c.raise()
		c.main.addContactWith(c.main.win, to.String(), u.Get("name"), u.Get("group"), nil)
		c.debug("xmpp link offers to add a contact", "to", to.String(), "name", u.Get("name"), "group", u.Get("group"))
	case xmppuri.ActionJoin:
		c.joinGroupChat(u)
	case xmppuri.ActionVCard:
		c.raise()
		c.holdStranger(to)
		c.showProfile(to, c.main.win)
	default:
		// message, no action, and those Magpie does not act on (remove,
		// unsubscribe: not on a link's word) open the chat.
		if _, open := c.chats.chats[to.String()]; !open {
			c.holdStranger(to)
		}
		t := c.chats.open(to, true)
		if body := u.Get("body"); body != "" {
			c.chats.prefill(t, body)
		}
		c.debug("xmpp link opened chat", "to", to.String(), "action", u.Action, "draft", t.view.Draft())
	}
}

// holdStranger keeps the profile and photo of someone a link names from
// being asked for, unless they are a contact or the user: a vCard
// request goes to their server, so a link on a web page could otherwise
// learn who opened it. The user's next step with them (a tap on Load
// profile or on the chat's header, a message sent or received) lets them
// be fetched.
func (c *controller) holdStranger(who jid.JID) {
	if c.client == nil || who.Equal(c.client.Account().Bare()) {
		return
	}
	if _, ok := c.client.Contact(who); ok {
		return
	}
	c.avatars.hold(who.String())
	c.debug("xmpp link: profile not fetched before the user asks", "who", who.String())
}

// joinGroupChat is where ?join links go: the room's tab when Magpie is in
// it, else the join dialog filled in from the link (the nickname is the
// link's resource, and its password), for the user to confirm, as Gajim
// does: a link on a web page does not join rooms by itself.
func (c *controller) joinGroupChat(u xmppuri.URI) {
	room := u.To.Bare()
	c.raise()
	if c.roomJoinedNow(room) {
		c.debug("xmpp link opened room", "room", room.String())
		c.chats.openRoom(room, "", true)
		return
	}
	nick := u.To.Resourcepart()
	if nick == "" {
		nick = c.defaultNick(room)
	}
	c.debug("xmpp link offers to join", "room", room.String(), "nick", nick)
	c.showJoinRoom(c.main.win).fill(room, nick, u.Get("password"))
}

// raise brings Magpie forward: the contacts window, or signed out the
// login window (as it is: a second start must not reset what is typed).
func (c *controller) raise() {
	switch {
	case c.main != nil:
		c.main.win.Show()
		c.main.win.RequestFocus()
	case c.loginWin != nil:
		c.loginWin.Show()
		c.loginWin.RequestFocus()
	default:
		c.showLogin(c.account, "")
	}
}

// showLinkProblem tells over the front window why a link did nothing.
func (c *controller) showLinkProblem(title, text string) {
	parent := c.loginWin
	if c.main != nil {
		parent = c.main.win
	}
	if parent == nil {
		fyne.LogError(title, errors.New(text))
		return
	}
	dialog.ShowInformation(title, text, parent)
}

// prefill puts text in the chat's entry as a draft, with the caret at its
// end, for the user to read, change and send, when the entry is empty. A
// link never changes what the user has typed: with a draft there, the
// draft stays and a dialog shows the link's text, to copy if wanted.
func (w *chatWindows) prefill(t *chatTab, text string) {
	e := t.view.entry
	switch cur := e.Text; {
	case cur == text:
	case strings.TrimSpace(cur) == "":
		e.SetText(text)
	default:
		w.showLinkText(text)
		return
	}
	lines := strings.Split(e.Text, "\n")
	e.CursorRow = len(lines) - 1
	e.CursorColumn = utf8.RuneCountInString(lines[len(lines)-1])
	e.Refresh()
}

// maxLinkTextShown bounds the link text the dialog shows, in characters:
// about ten lines.
const maxLinkTextShown = 500

// showLinkText tells, over the chat window, that a link's text was not
// put into a draft, and shows it (selectable).
func (w *chatWindows) showLinkText(text string) {
	if r := []rune(text); len(r) > maxLinkTextShown {
		text = string(r[:maxLinkTextShown]) + "…"
	}
	shown := &widget.Label{Text: text, Wrapping: fyne.TextWrapWord, Selectable: true}
	intro := &widget.Label{Text: lang.L("You have unsent text in this chat, so the text of the link was not put in. The link's text:"), Wrapping: fyne.TextWrapWord}
	d := dialog.NewCustom(lang.L("Your draft was kept"), lang.L("Close"), container.NewVBox(intro, shown), w.win)
	d.Resize(fyne.NewSize(min(w.win.Canvas().Size().Width-20, 420), 0))
	d.Show()
}
