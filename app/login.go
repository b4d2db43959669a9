package app

import (
	"errors"
	"net"
	"strconv"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/lang"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/widget"
	"mellium.im/xmpp/jid"

	"magpie/xmpp/provision"
)

// loginRequest is what the user asked for in the login form.
type loginRequest struct {
	Account   string // bare JID
	Password  string
	Remember  bool
	Auto      bool
	Server    string // host:port, or "" for SRV lookup
	DirectTLS bool
}

// loginForm is the sign-in form: account, password, remember, sign in
// automatically, and an Advanced section with the server and direct TLS.
// Its methods run on Fyne's goroutine.
type loginForm struct {
	defaultDomain string
	onSubmit      func(loginRequest)
	onCancel      func()

	account   *widget.Entry
	password  *widget.Entry
	remember  *widget.Check
	auto      *widget.Check
	server    *widget.Entry
	directTLS *widget.Check
	message   *widget.Label
	progress  *busyNote
	signIn    *widget.Button
	cancel    *widget.Button
	content   fyne.CanvasObject

	// What a provisioning file changes: the title names the company, the
	// account is only the user name (suffix shows the domain), the server
	// and remembering the password may be out of the user's hands, and a
	// broken file is reported in provisionNote.
	title         *widget.Label
	accountItem   *widget.FormItem
	suffix        *widget.Label
	advanced      *widget.Accordion
	provisionNote *widget.Label
	// serverFixed is set when the provisioning file says where to connect.
	serverFixed bool
	// noRemember is set when the provisioning file forbids remembering
	// passwords.
	noRemember bool
}

func newLoginForm(defaultDomain string, onSubmit func(loginRequest), onCancel func()) *loginForm {
	f := &loginForm{defaultDomain: defaultDomain, onSubmit: onSubmit, onCancel: onCancel}
	f.account = &widget.Entry{PlaceHolder: lang.L("zhangsan or zhangsan@company.example")}
	f.password = &widget.Entry{Password: true, PlaceHolder: lang.L("Password")}
	f.remember = widget.NewCheck(lang.L("Remember password"), func(on bool) {
		if !on {
			f.auto.SetChecked(false)
		}
	})
	f.auto = widget.NewCheck(lang.L("Sign in automatically"), func(on bool) {
		if on {
			f.remember.SetChecked(true)
		}
	})
	f.remember.SetChecked(true)
	f.server = &widget.Entry{PlaceHolder: lang.L("im.company.example:5222 (optional)")}
	f.directTLS = widget.NewCheck(lang.L("Direct TLS (port 5223)"), nil)
	f.message = &widget.Label{Wrapping: fyne.TextWrapWord, Importance: widget.DangerImportance}
	f.message.Hide()
	f.progress = newBusyNote(lang.L("Signing in…"))
	f.signIn = &widget.Button{Text: lang.L("Sign in"), Importance: widget.HighImportance, OnTapped: f.submit}
	f.cancel = &widget.Button{Text: lang.L("Cancel"), OnTapped: func() {
		if f.onCancel != nil {
			f.onCancel()
		}
	}}
	f.cancel.Hide()
	f.account.OnSubmitted = func(string) { f.submit() }
	f.password.OnSubmitted = func(string) { f.submit() }

	f.advanced = widget.NewAccordion(widget.NewAccordionItem(lang.L("Advanced"),
		widget.NewForm(
			widget.NewFormItem(lang.L("Server"), f.server),
			widget.NewFormItem("", f.directTLS),
		)))
	f.suffix = &widget.Label{}
	f.suffix.Hide()
	f.accountItem = widget.NewFormItem(lang.L("Account"), container.NewBorder(nil, nil, nil, f.suffix, f.account))
	form := widget.NewForm(
		f.accountItem,
		widget.NewFormItem(lang.L("Password"), f.password),
	)
	f.title = widget.NewLabelWithStyle(lang.L("Sign in to Magpie"), fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
	f.provisionNote = &widget.Label{Wrapping: fyne.TextWrapWord, Importance: widget.WarningImportance}
	f.provisionNote.Hide()
	f.content = container.NewVBox(f.title, f.provisionNote, form, f.remember, f.auto, f.advanced, f.message, f.progress,
		container.NewHBox(layout.NewSpacer(), f.cancel, f.signIn))
	return f
}

// Provision adapts the form to what IT provisioned: with a domain the user
// types only the user name, with a server the Advanced section goes, and
// without permission to remember passwords so do the checkboxes. problem,
// when not nil, is a provisioning file that could not be used; the
// provisioning's warnings (the user's file overridden, or deciding trust)
// show with it.
func (f *loginForm) Provision(p *provision.Config, problem error) {
	if p.Company != "" {
		f.title.SetText(lang.L("Sign in to {{.Company}}", map[string]any{"Company": p.Company}))
	}
	if p.Domain != "" {
		f.defaultDomain = p.Domain
		f.accountItem.Text = lang.L("User name")
		f.account.PlaceHolder = lang.L("Your OA user name, such as zhangsan")
		f.suffix.SetText("@" + p.Domain)
		f.suffix.Show()
	}
	f.serverFixed = p.HasServer()
	if f.serverFixed {
		f.advanced.Hide()
	}
	f.noRemember = !p.RememberPasswords
	if f.noRemember {
		f.remember.SetChecked(false)
		f.auto.SetChecked(false)
		f.remember.Hide()
		f.auto.Hide()
	}
	var notes []string
	if problem != nil {
		notes = append(notes, describeProvisionError(problem))
	}
	if w := describeProvisionWarnings(p.Warnings); w != "" {
		notes = append(notes, w)
	}
	if len(notes) > 0 {
		f.provisionNote.SetText(strings.Join(notes, "\n"))
		f.provisionNote.Show()
	} else {
		f.provisionNote.Hide()
	}
	f.content.Refresh()
}

// Object returns the form's content.
func (f *loginForm) Object() fyne.CanvasObject { return f.content }

// Fill puts a saved account into the form. An account in the provisioned
// domain shows as its user name, beside the domain.
func (f *loginForm) Fill(account, server string, directTLS, remember, auto bool) {
	if j, err := jid.Parse(account); err == nil && f.suffix.Visible() && j.Domainpart() == f.defaultDomain && j.Localpart() != "" {
		account = j.Localpart()
	}
	if f.noRemember {
		remember, auto = false, false
	}
	f.account.SetText(account)
	f.server.SetText(server)
	f.directTLS.SetChecked(directTLS)
	f.remember.SetChecked(remember)
	f.auto.SetChecked(auto)
}

// SetBusy shows progress and Cancel while a sign-in runs, and keeps the
// fields from being edited under it.
func (f *loginForm) SetBusy(busy bool) {
	for _, w := range []fyne.Disableable{f.account, f.password, f.server, f.directTLS, f.remember, f.auto, f.signIn} {
		if busy {
			w.Disable()
		} else {
			w.Enable()
		}
	}
	if busy {
		f.ShowError("")
		f.progress.Show()
		f.progress.Start()
		f.cancel.Show()
	} else {
		f.progress.Stop()
		f.progress.Hide()
		f.cancel.Hide()
	}
}

// ShowError says what went wrong, in the window; "" clears it.
func (f *loginForm) ShowError(msg string) {
	f.message.SetText(msg)
	if msg == "" {
		f.message.Hide()
	} else {
		f.message.Show()
	}
}

func (f *loginForm) submit() {
	req, err := f.request()
	if err != nil {
		f.ShowError(err.Error())
		return
	}
	f.ShowError("")
	if f.onSubmit != nil {
		f.onSubmit(req)
	}
}

// request validates the fields. A bare user name is completed with the
// default domain, as OA accounts are known by their user name alone.
func (f *loginForm) request() (loginRequest, error) {
	account := strings.TrimSpace(f.account.Text)
	if account == "" {
		return loginRequest{}, errors.New(lang.L("Enter your account."))
	}
	if !strings.Contains(account, "@") {
		if f.defaultDomain == "" {
			return loginRequest{}, errors.New(lang.L("Enter your full account, such as zhangsan@company.example."))
		}
		account += "@" + f.defaultDomain
	}
	j, err := jid.Parse(account)
	if err != nil || j.Localpart() == "" {
		return loginRequest{}, errors.New(lang.X("login.bad_account", "“{{.Account}}” is not an account name.", map[string]any{"Account": account}))
	}
	if f.password.Text == "" {
		return loginRequest{}, errors.New(lang.L("Enter your password."))
	}
	server := strings.TrimSpace(f.server.Text)
	if f.serverFixed {
		server = "" // the provisioning file says where
	}
	if server != "" {
		host, port, err := net.SplitHostPort(server)
		if err != nil {
			host, port = server, ""
		}
		if n, perr := strconv.Atoi(port); host == "" || (port != "" && (perr != nil || n < 1 || n > 65535)) {
			return loginRequest{}, errors.New(lang.L("The server must be a host name, optionally with a port, such as im.company.example:5222."))
		}
	}
	return loginRequest{
		Account: j.Bare().String(), Password: f.password.Text,
		Remember: f.remember.Checked && !f.noRemember, Auto: f.auto.Checked && !f.noRemember,
		Server: server, DirectTLS: f.directTLS.Checked && !f.serverFixed,
	}, nil
}
