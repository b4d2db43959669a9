package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/lang"
	"fyne.io/fyne/v2/widget"
	"mellium.im/xmpp/jid"

	"magpie/xmpp"
	"magpie/xmpp/keyring"
	"magpie/xmpp/provision"
	"magpie/xmpp/store"
	"magpie/xmpp/xmppuri"
)

// Preference keys: settings that are not secret (conventions, rule 7).
const (
	prefLastAccount = "account.last"
	prefAutoSignIn  = "account.auto"
	prefRemember    = "account.remember"
	// prefTrayHintShown records that the hide-to-tray hint was given once.
	prefTrayHintShown = "hint.tray"
	// prefNotifications turns desktop notifications for messages on or off.
	prefNotifications = "notify.messages"
)

// signInTimeout bounds a sign-in attempt, so the form never spins forever.
const signInTimeout = 45 * time.Second

// controller owns the windows and the client. Connection state decides what
// shows: signed out, the login window; signed in, the main window. All of
// its methods run on Fyne's goroutine; background work comes back through
// fyne.Do.
type controller struct {
	app      fyne.App
	version  string
	accounts *xmpp.AccountStore
	secrets  *keyring.Store

	loginWin     fyne.Window
	login        *loginForm
	cancelSignIn context.CancelFunc

	client  *xmpp.Client
	account xmpp.AccountConfig
	// store is the signed-in account's message history, closed after the
	// client on sign-out.
	store *store.DB
	// storePath says where an account's history is; tests replace it.
	storePath func(account string) (string, error)
	main      *mainWindow
	chats     *chatWindows
	// notices is the signed-in account's notices inbox (notices.go).
	notices *noticeInbox
	tray    *tray
	// foreground is whether one of Magpie's windows has the focus.
	foreground bool
	// notifyHook, when set, receives notifications instead of the desktop.
	notifyHook func(*fyne.Notification)
	// notifier collapses message notifications per sender (notify.go).
	notifier *notifier
	// pending is the session being signed in, until the server accepts
	// it (sessionConfirmed) or not (signInDone).
	pending *pendingSignIn
	// inBatch is set while a batch of events is applied; what changes
	// the tray (unreadDirty) and the notifications wait for its end.
	inBatch     int
	unreadDirty bool
	// trayHost is whether the desktop shows tray icons (checked at start).
	trayHost atomic.Bool
	// avatars holds the signed-in account's contacts' photos.
	avatars *avatarCache
	// bookmarks are the signed-in account's room bookmarks (rooms.go).
	bookmarks *roomBook
	// groupActs are the group chat prompts: invitations, notes in room
	// tabs (roominvite.go).
	groupActs *roomActions
	// profiles are the profiles seen this session, for cards opened again.
	profiles map[string]xmpp.Profile
	// ownName is the name the user goes by (own vCard's nickname, else full
	// name), "" until read: the default nickname in group chats.
	ownName string
	// pendingLinks are xmpp: links that came before sign-in (links.go).
	pendingLinks []xmppuri.URI
	// log is the debug log (MAGPIE_DEBUG=1); nil discards.
	log *slog.Logger
	// toUI hands the pump's work to Fyne's goroutine: fyne.Do when nil.
	// Benchmarks replace it, because Fyne's test driver runs fyne.Do on
	// the calling goroutine instead of serialising it.
	toUI func(func())

	// provision is what IT provisioned (never nil; empty without a file),
	// provisionErr a provisioning file that could not be used.
	provision    *provision.Config
	provisionErr error
	// lastActivity is when Magpie's own windows last saw the user (Unix
	// nanoseconds): the idle time where the desktop does not tell it.
	lastActivity atomic.Int64
	// newIdleSource reads the desktop's input idle time; tests replace it.
	newIdleSource func() (idleSource, error)
	// stopIdle ends the signed-in account's idle watcher; idleInterval is
	// how often it reads the idle time (idlePollInterval when 0).
	stopIdle     chan struct{}
	idleInterval time.Duration
}

func newController(a fyne.App, version string, accounts *xmpp.AccountStore, secrets *keyring.Store) *controller {
	c := &controller{app: a, version: version, accounts: accounts, secrets: secrets, storePath: store.DefaultPath,
		provision: &provision.Config{RememberPasswords: true}, newIdleSource: systemIdleSource}
	c.noteActivity()
	return c
}

// noteActivity records that the user did something in Magpie.
func (c *controller) noteActivity() { c.lastActivity.Store(time.Now().UnixNano()) }

// start signs in directly when the last account (or the only one, e.g. set
// up with `magpie login`) has a remembered password; otherwise it shows the
// login window.
func (c *controller) start() {
	// Fyne starts the tray only when its menu is set before the app runs.
	c.tray = newTray(c)
	go func() { c.trayHost.Store(trayHostPresent()) }()
	c.app.Lifecycle().SetOnEnteredForeground(func() {
		c.foreground = true
		c.noteActivity()
		if c.chats != nil && c.chats.tabs != nil {
			c.chats.markRead(c.chats.tabs.Selected()) // the user is looking at it now
		}
	})
	c.app.Lifecycle().SetOnExitedForeground(func() { c.foreground = false })
	c.firstSignIn()
}

// firstSignIn shows the login window and, when the last account's password
// is remembered and automatic sign-in is on (and allowed), signs in.
func (c *controller) firstSignIn() {
	cfg, ok := c.lastAccount()
	if !ok || !c.app.Preferences().BoolWithFallback(prefAutoSignIn, true) || !c.provision.RememberPasswords {
		c.showLogin(cfg, "")
		return
	}
	c.showLogin(cfg, "")
	c.beginSignIn(cfg, c.secrets.PasswordFunc(cfg.JID), nil)
}

func (c *controller) lastAccount() (xmpp.AccountConfig, bool) {
	last := c.app.Preferences().String(prefLastAccount)
	list, err := c.accounts.List()
	if err != nil {
		fyne.LogError("read accounts", err)
		return xmpp.AccountConfig{JID: last}, false
	}
	for _, a := range list {
		if a.JID == last || (last == "" && len(list) == 1) {
			return a, true
		}
	}
	return xmpp.AccountConfig{JID: last}, false
}

func (c *controller) showLogin(cfg xmpp.AccountConfig, message string) {
	if c.loginWin == nil {
		domain := ""
		if j, err := jid.Parse(cfg.JID); err == nil {
			domain = j.Domainpart()
		}
		c.login = newLoginForm(domain, c.onLoginSubmit, c.onLoginCancel)
		c.login.Provision(c.provision, c.provisionErr)
		c.loginWin = c.app.NewWindow(lang.L("Sign in to Magpie"))
		c.loginWin.SetContent(container.NewPadded(c.login.Object()))
		c.loginWin.Resize(fyne.NewSize(420, 0))
		c.loginWin.SetOnClosed(func() { c.loginWin = nil })
	}
	prefs := c.app.Preferences()
	c.login.Fill(cfg.JID, cfg.Server, cfg.DirectTLS, prefs.BoolWithFallback(prefRemember, true), prefs.BoolWithFallback(prefAutoSignIn, true))
	c.login.ShowError(message)
	c.loginWin.Show()
	c.loginWin.CenterOnScreen()
}

func (c *controller) onLoginSubmit(req loginRequest) {
	cfg, _, _ := c.accounts.Get(req.Account)
	cfg.JID = req.Account
	cfg.Server, cfg.DirectTLS = req.Server, req.DirectTLS
	password := req.Password
	c.beginSignIn(cfg, func(context.Context) (string, error) { return password, nil }, &req)
}

func (c *controller) onLoginCancel() {
	if c.cancelSignIn != nil {
		c.cancelSignIn()
	}
}

// beginSignIn connects off the UI thread; req is nil for an automatic
// sign-in with the remembered password.
func (c *controller) beginSignIn(cfg xmpp.AccountConfig, password func(context.Context) (string, error), req *loginRequest) {
	// What IT provisioned wins over what was saved for the account.
	cfg = c.provision.Apply(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), signInTimeout)
	c.cancelSignIn = cancel
	c.login.SetBusy(true)
	version, storePath, toUI := c.version, c.storePath, c.uiRunner()
	extra := c.provision.ClientOptions()
	go func() {
		defer cancel()
		// The history opens first: signing in with a silently fresh one
		// would hide the old one from the user, and the archive catch-up
		// would start over.
		var client *xmpp.Client
		db, err := openStore(storePath, cfg.JID)
		if err == nil {
			// The core joins the autojoin bookmarks, after every new
			// session and when another device adds one (rooms.go).
			opts := append(cfg.Options(), xmpp.WithPassword(password), xmpp.WithVersion(version), xmpp.WithStore(db), xmpp.WithAutojoin())
			client, err = xmpp.New(cfg.JID, append(opts, extra...)...)
			if err != nil {
				db.Close()
			}
		}
		if err != nil {
			toUI(func() { c.signInDone(nil, nil, cfg, password, req, err) })
			return
		}
		// The session's windows are set up while the client connects: the
		// contacts window shows as soon as the roster is known (rosterKnown).
		toUI(func() { c.startSession(client, db, cfg, req) })
		err = client.Connect(ctx)
		if ctx.Err() == context.Canceled {
			err = context.Canceled // cancelled, maybe just as it succeeded
		}
		toUI(func() { c.signInDone(client, db, cfg, password, req, err) })
	}()
}

// historyError is a message history that could not be opened.
type historyError struct {
	path string
	err  error
}

func (e *historyError) Error() string {
	return fmt.Sprintf("open message history %s: %v", e.path, e.err)
}
func (e *historyError) Unwrap() error { return e.err }

// openStore opens the account's message history. It never replaces a file
// it cannot open: the error says where it is and what is wrong.
func openStore(storePath func(string) (string, error), account string) (*store.DB, error) {
	path, err := storePath(account)
	if err != nil {
		return nil, &historyError{path: path, err: err}
	}
	db, err := store.Open(path)
	if err != nil {
		return nil, &historyError{path: path, err: err}
	}
	return db, nil
}

// signInDone ends a sign-in: the session that startSession set up for
// client is confirmed, or ended with the error shown in the login window.
// client is nil when it could not even be made.
func (c *controller) signInDone(client *xmpp.Client, db *store.DB, cfg xmpp.AccountConfig, password func(context.Context) (string, error), req *loginRequest, err error) {
	if client != nil && (c.pending == nil || c.pending.client != client) {
		// Signed out (or quit) while it connected: signOut closed it.
		return
	}
	c.cancelSignIn = nil
	c.login.SetBusy(false)
	if err != nil && client != nil {
		c.endSession()
		if c.loginWin != nil {
			c.loginWin.Show()
		}
	}
	var certErr *xmpp.CertificateError
	switch {
	case errors.Is(err, context.Canceled):
		c.login.ShowError("")
		return
	case errors.As(err, &certErr) && c.provision.HasTrust(cfg.JID):
		// IT decided which certificate is right: no question to the user.
		c.login.ShowError(describeProvisionedCertificate(certErr))
		return
	case errors.As(err, &certErr):
		c.askTrust(cfg, certErr, func(pinned xmpp.AccountConfig) { c.beginSignIn(pinned, password, req) })
		return
	case errors.Is(err, keyring.ErrUnavailable):
		// Offer the way that works: sign in without remembering.
		c.login.remember.SetChecked(false)
		c.login.ShowError(describeError(err))
		return
	case err != nil:
		c.login.ShowError(describeError(err))
		return
	}
	c.sessionConfirmed(req)
}

// askTrust shows the certificate the server presented and lets the user pin
// it. A certificate that replaces one pinned earlier is announced loudly:
// that is what an interception looks like, also when a CA on this computer
// vouches for it (a pin is exclusive).
func (c *controller) askTrust(cfg xmpp.AccountConfig, ce *xmpp.CertificateError, retry func(xmpp.AccountConfig)) {
	fp := widget.NewEntry()
	fp.SetText(xmpp.FormatFingerprint(ce.Fingerprint))
	fp.TextStyle = fyne.TextStyle{Monospace: true}
	fp.Wrapping = fyne.TextWrapBreak
	fp.MultiLine = true
	fp.Disable() // selectable and copyable, not editable
	title := lang.L("Untrusted certificate")
	text := lang.L("The server {{.Server}} presented a certificate that this computer does not trust ({{.Reason}}). Compare its SHA-256 fingerprint with the one your IT department gives you. Trust it only if they match.",
		map[string]any{"Server": ce.Domain, "Reason": ce.Reason})
	confirm := lang.L("Trust this certificate")
	changed := len(cfg.Fingerprints) > 0
	if changed {
		title = lang.L("Warning: the server's certificate has changed")
		text = lang.L("The certificate of {{.Server}} is not the one you trusted before. Someone may be intercepting the connection. Do not continue unless your IT department confirms the new fingerprint below.",
			map[string]any{"Server": ce.Domain})
		confirm = lang.L("Trust the new certificate")
	}
	body := &widget.Label{Text: text, Wrapping: fyne.TextWrapWord}
	d := dialog.NewCustomConfirm(title, confirm, lang.L("Cancel"),
		container.NewVBox(body, widget.NewLabel(lang.L("SHA-256 fingerprint:")), fp),
		func(trust bool) {
			if !trust {
				c.login.ShowError(lang.L("Not signed in: the server's certificate is not trusted."))
				return
			}
			if changed {
				// The new certificate replaces the old one: a pin is
				// exclusive, and the old certificate is no longer the
				// server's.
				cfg.Fingerprints = []string{ce.Fingerprint}
			} else {
				cfg.Fingerprints = append(cfg.Fingerprints, ce.Fingerprint)
			}
			retry(cfg)
		}, c.loginWin)
	d.Resize(fyne.NewSize(520, 0))
	d.Show()
}

// pendingSignIn is a session whose windows are set up while its client
// connects.
type pendingSignIn struct {
	client *xmpp.Client
	// auto is a sign-in with the remembered password (at start): the
	// contacts window may show from the roster cache, before the server
	// has checked the password. One typed in waits for the server.
	auto bool
	// applies carries background results (photos, the idle watcher's)
	// to the pump.
	applies chan func()
}

// signedIn switches to the session of a client that is online: the
// windows, then what is to be remembered.
func (c *controller) signedIn(client *xmpp.Client, db *store.DB, cfg xmpp.AccountConfig, req *loginRequest) {
	c.startSession(client, db, cfg, req)
	c.sessionConfirmed(req)
}

// startSession sets up the session's windows and starts the pump while the
// client signs in. The contacts window shows when the roster is known
// (rosterKnown): at once from the roster cache for an automatic sign-in,
// when the server sends it otherwise; sessionConfirmed shows it at the
// latest.
func (c *controller) startSession(client *xmpp.Client, db *store.DB, cfg xmpp.AccountConfig, req *loginRequest) {
	c.client, c.store, c.account = client, db, cfg
	// Photos fetched in the background reach the UI through the pump.
	applies := make(chan func(), maxAvatarFetches)
	c.pending = &pendingSignIn{client: client, auto: req == nil, applies: applies}
	c.avatars, c.profiles, c.ownName = newAvatarCache(client, nil), nil, ""
	c.avatars.deliverTo(applies)
	c.notices = newNoticeInbox(c, client)
	c.main = newMainWindow(c)
	c.chats = newChatWindows(c)
	c.notices.refreshCount()
	if db != nil {
		c.chats.restoring = true
		c.chats.run(func() func() {
			counts, err := client.UnreadCounts()
			return func() {
				if err != nil {
					fyne.LogError("read unread counts", err)
				}
				if c.client == client {
					c.chats.restoreUnread(counts)
				}
			}
		})
	}
	c.bookmarks = nil
	go c.pump(client, applies)
}

// rosterKnown shows the contacts window of a session still signing in once
// its roster is known.
func (c *controller) rosterKnown(e xmpp.RosterUpdated) {
	if p := c.pending; p != nil && e.Full && (!e.Cached || p.auto) {
		c.showSession()
	}
}

// showSession puts the contacts window up in place of the login window.
func (c *controller) showSession() {
	if c.main.shown {
		return
	}
	c.main.shown = true
	c.main.win.Show()
	if c.loginWin != nil {
		c.loginWin.Hide()
	}
}

// sessionConfirmed finishes a sign-in the server accepted: the contacts
// window, and what is to be remembered.
func (c *controller) sessionConfirmed(req *loginRequest) {
	p, cfg := c.pending, c.account
	c.pending = nil
	prefs := c.app.Preferences()
	prefs.SetString(prefLastAccount, cfg.JID)
	// The strongest sign-in the server has offered is the least it may
	// offer next time (a weaker one is refused as a downgrade).
	cfg.SASLFloor = p.client.SASLFloor()
	c.account = cfg
	if err := c.accounts.Save(cfg); err != nil {
		fyne.LogError("save account", err)
	}
	c.loadBookmarks()
	c.showSession()
	// The user's own provisioning file deciding trust stays in sight after
	// an automatic sign-in too, which shows the login window only briefly.
	if w := describeProvisionWarnings(c.provision.Warnings); w != "" {
		c.main.showProblem(w)
	}
	c.applyPendingLinks()
	c.startIdleWatcher(p.applies)
	if req == nil {
		return
	}
	if !c.provision.RememberPasswords {
		forbidden := *req
		forbidden.Remember, forbidden.Auto = false, false
		req = &forbidden
	}
	prefs.SetBool(prefRemember, req.Remember)
	prefs.SetBool(prefAutoSignIn, req.Auto)
	secrets, account, password, toUI := c.secrets, cfg.JID, req.Password, c.uiRunner()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		var err error
		if req.Remember {
			err = secrets.Save(ctx, account, password)
		} else if derr := secrets.Delete(ctx, account); derr != nil && !errors.Is(derr, keyring.ErrNotFound) {
			err = derr
		}
		if err != nil {
			toUI(func() {
				if c.main == nil {
					return // signed out meanwhile
				}
				dialog.ShowInformation(lang.L("Password not remembered"),
					lang.L("You are signed in, but the system keyring is unavailable, so Magpie cannot remember the password and will ask for it next time. ({{.Error}})",
						map[string]any{"Error": err}), c.main.win)
			})
		}
	}()
}

// pump is the one goroutine that hands core events to the UI, and with
// them the results of background work sent on applies (avatars).
func (c *controller) pump(client *xmpp.Client, applies <-chan func()) {
	events := client.Events()
	q := &uiQueue{toUI: c.uiRunner(), apply: func(batch []any) { c.applyBatch(client, batch) }, interval: uiBatchInterval, maxInterval: uiBatchMaxInterval}
	for {
		select {
		case apply := <-applies:
			q.add(apply)
		case e, ok := <-events:
			if !ok {
				return
			}
			q.add(e)
		}
	}
}

// applyBatch applies events and results from the pump, holding the contact
// list's redraws until the end of the batch.
func (c *controller) applyBatch(client *xmpp.Client, batch []any) {
	if c.client != client {
		return
	}
	if c.main != nil {
		roster, requests := c.main.roster, c.main.requests
		roster.hold()
		defer roster.release()
		requests.hold()
		defer requests.release()
	}
	c.inBatch++
	defer c.endBatch()
	if c.chats != nil && c.inBatch == 1 {
		c.chats.holdScrolls()
	}
	for _, item := range batch {
		if c.client != client { // a batch can sign out
			return
		}
		switch item := item.(type) {
		case func():
			item()
		case xmpp.Event:
			c.handle(item)
		}
	}
}

// endBatch applies what a batch of events changed in the tray and the
// notifications, once for the whole batch.
func (c *controller) endBatch() {
	if c.inBatch--; c.inBatch > 0 {
		return
	}
	if c.unreadDirty {
		c.unreadDirty = false
		c.refreshUnread()
	}
	if c.chats != nil {
		c.chats.releaseScrolls()
		c.chats.saveUnread()
	}
	if c.notifier != nil {
		c.notifier.flush()
	}
}

// runner runs work in the background and hands its result over as
// uiRunner does: runInBackground, unless a test or benchmark set toUI.
func (c *controller) runner() backgroundRunner {
	if c.toUI == nil {
		return runInBackground
	}
	toUI := c.toUI
	return func(load func() func()) { go func() { toUI(load()) }() }
}

// uiRunner returns how background work reaches Fyne's goroutine: toUI, or
// fyne.Do.
func (c *controller) uiRunner() func(func()) {
	if c.toUI != nil {
		return c.toUI
	}
	return fyne.Do
}

// maxEventBatch bounds one hand-over to the UI, so that the window stays
// responsive while a flood is applied.
const maxEventBatch = 2000

func (c *controller) handle(e xmpp.Event) {
	switch e := e.(type) {
	case xmpp.StateChanged:
		c.main.setState(e)
		if e.State == xmpp.Online {
			c.avatars.retryFailed() // those that failed while offline
			c.loadBookmarks()       // changed elsewhere meanwhile
			if c.ownName == "" {
				c.loadOwnProfile()
			}
		}
		// A sign-in that fails is signInDone's to end (a certificate to
		// trust, say); a session that was up is signed out.
		if e.State == xmpp.Offline && c.pending == nil && e.Err != nil && (errors.Is(e.Err, xmpp.ErrAuth) || errors.Is(e.Err, xmpp.ErrCertificate) || errors.Is(e.Err, xmpp.ErrUnsafeSignIn)) {
			c.signOut(describeError(e.Err))
		}
	case xmpp.RosterUpdated:
		if e.Full {
			c.main.roster.SetContacts(e.Contacts)
		} else {
			c.main.roster.UpdateContacts(e.Contacts)
		}
		c.rosterKnown(e)
	case xmpp.PresenceChanged:
		bare := e.From.Bare()
		best, online := c.client.BestPresence(bare)
		c.main.roster.SetPresence(bare, best, online)
		c.chats.presenceChanged(bare, best, online)
		if e.Available() && e.AvatarHash != "" {
			c.avatars.setHash(bare, e.AvatarHash)
		}
	case xmpp.AvatarChanged:
		c.avatars.setHash(e.JID, e.Hash)
	case xmpp.MessageReceived:
		c.chats.received(e.Message)
	case xmpp.RoomJoined:
		c.chats.roomJoined(e)
		c.refreshRooms()
	case xmpp.RoomMessage:
		c.chats.roomMessage(e)
	case xmpp.OccupantChanged:
		c.chats.occupantChanged(e)
		if e.Self {
			c.refreshRooms() // the service went down, or the nick changed
		}
	case xmpp.RoomSubject:
		c.chats.roomSubject(e)
		c.refreshRooms()
	case xmpp.RoomLeft:
		c.chats.roomLeft(e)
		c.refreshRooms()
	case xmpp.BookmarksChanged:
		c.bookmarksChanged(e)
	case xmpp.InvitationReceived:
		c.invitationReceived(e)
	case xmpp.InvitationDeclined:
		c.invitationDeclined(e)
	case xmpp.NoticeReceived:
		c.notices.received(e.Notice)
	case xmpp.MessageStateChanged:
		why := ""
		if e.Err != nil {
			why = describeSendError(e.Err) // a room given up: why its messages did not go
		}
		c.chats.stateChanged(e.ID, e.Peer, viewState(e.State), why)
	case xmpp.MessageFailed:
		c.chats.failed(e.ID, e.To, e.Err)
	case xmpp.SubscriptionRequest:
		c.main.requests.add(e)
	case xmpp.ErrorOccurred:
		if c.chats.roomError(e.Err) || c.roomRequestRefused(e.Err) {
			break
		}
		c.main.showProblem(lang.L("Something went wrong: {{.Error}}", map[string]any{"Error": e.Err.Error()}))
	case xmpp.HistorySynced:
		if e.Err != nil {
			c.main.showProblem(lang.L("Messages sent while you were away could not be fetched from the server: {{.Reason}}",
				map[string]any{"Reason": describeError(e.Err)}))
		}
	}
}

// showMain brings the main window (or, signed out, the login window) up.
func (c *controller) showMain() {
	if c.main == nil {
		c.showLogin(c.account, "")
		return
	}
	c.main.win.Show()
	c.main.win.RequestFocus()
}

// signOut ends the session and returns to the login window.
func (c *controller) signOut(message string) {
	if c.pending != nil && c.login != nil {
		c.login.SetBusy(false) // its Connect fails now, unnoticed
		c.cancelSignIn = nil
	}
	c.endSession()
	c.showLogin(c.account, message)
}

// endSession closes the session: the client, then the store, off the UI
// thread, and the session's windows.
func (c *controller) endSession() {
	client, db := c.client, c.store
	c.client, c.store, c.bookmarks, c.pending = nil, nil, nil, nil
	if client != nil {
		go func() {
			leaveAllRooms(client)
			client.Close()
			if db != nil {
				db.Close() // after the client: it writes until it is closed
			}
		}()
	}
	c.stopIdleWatcher()
	c.notifier.close()
	c.notifier = nil
	if c.chats != nil {
		c.chats.close()
	}
	c.notices.close()
	c.notices = nil
	c.avatars.close()
	c.avatars = nil
	if c.main != nil {
		c.main.close()
		c.main = nil
	}
	c.tray.setUnread(0)
}

// shutdown signs out cleanly when the app quits.
func (c *controller) shutdown() {
	if c.client != nil {
		leaveAllRooms(c.client)
		c.client.Close()
	}
	if c.store != nil {
		c.store.Close()
	}
}

// describeError says in plain words what went wrong with a sign-in.
func describeError(err error) string {
	var ae *xmpp.AuthError
	var he *historyError
	var de *xmpp.DowngradeError
	var ie *xmpp.SCRAMIterationsError
	switch {
	case errors.As(err, &he):
		return describeHistoryError(he)
	case errors.As(err, &de):
		return lang.L("Magpie did not sign in: the server now allows only {{.Offered}}, a weaker sign-in than {{.Floor}}, which it used before. Someone may be tampering with the connection to get your password; nothing was sent. Tell your IT department.",
			map[string]any{"Offered": de.Offered, "Floor": de.Floor})
	case errors.As(err, &ie):
		return lang.L("Magpie did not sign in: the server asked for {{.Count}} rounds of password hashing, far more than the {{.Max}} allowed, which would tie up this computer. Tell your IT department.",
			map[string]any{"Count": ie.Count, "Max": ie.Max})
	case errors.As(err, &ae):
		return lang.L("Wrong user name or password.")
	case errors.Is(err, xmpp.ErrUnreachable):
		detail := strings.TrimPrefix(err.Error(), xmpp.ErrUnreachable.Error()+": ")
		return lang.L("Cannot reach the server ({{.Detail}}). Check the network connection, or the server under Advanced.", map[string]any{"Detail": detail})
	case errors.Is(err, keyring.ErrNotFound):
		return lang.L("Enter your password to sign in.")
	case errors.Is(err, keyring.ErrUnavailable):
		return lang.L("The system keyring is unavailable, so the saved password cannot be read. Enter the password to sign in without remembering it.")
	case errors.Is(err, context.DeadlineExceeded):
		return lang.L("The server did not answer in time. Try again later.")
	}
	return lang.L("Could not sign in: {{.Error}}", map[string]any{"Error": fmt.Sprint(err)})
}

// describeHistoryError says what is wrong with the message history file
// and what the user can do; Magpie never replaces it on its own.
func describeHistoryError(he *historyError) string {
	detail := strings.ReplaceAll(he.err.Error(), he.path+": ", "")
	detail = strings.ReplaceAll(detail, "store: ", "")
	switch {
	case errors.Is(he.err, store.ErrCorrupt):
		return lang.L("The message history at {{.Path}} is damaged ({{.Detail}}). Magpie did not change it; move it away to start a new one.",
			map[string]any{"Path": he.path, "Detail": detail})
	case errors.Is(he.err, store.ErrTooNew):
		return lang.L("The message history at {{.Path}} was written by a newer version of Magpie. Update Magpie, or move the file away to start a new history.",
			map[string]any{"Path": he.path})
	}
	return lang.L("Cannot open the message history at {{.Path}} ({{.Detail}}). Magpie did not sign in, so that no messages are lost.",
		map[string]any{"Path": he.path, "Detail": detail})
}
