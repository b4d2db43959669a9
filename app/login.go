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
	progress  *widget.ProgressBarInfinite
	signIn    *widget.Button
	cancel    *widget.Button
	content   fyne.CanvasObject
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
	f.progress = widget.NewProgressBarInfinite()
	f.progress.Stop()
	f.progress.Hide()
	f.signIn = &widget.Button{Text: lang.L("Sign in"), Importance: widget.HighImportance, OnTapped: f.submit}
	f.cancel = &widget.Button{Text: lang.L("Cancel"), OnTapped: func() {
		if f.onCancel != nil {
			f.onCancel()
		}
	}}
	f.cancel.Hide()
	f.account.OnSubmitted = func(string) { f.submit() }
	f.password.OnSubmitted = func(string) { f.submit() }

	advanced := widget.NewAccordion(widget.NewAccordionItem(lang.L("Advanced"),
		widget.NewForm(
			widget.NewFormItem(lang.L("Server"), f.server),
			widget.NewFormItem("", f.directTLS),
		)))
	form := widget.NewForm(
		widget.NewFormItem(lang.L("Account"), f.account),
		widget.NewFormItem(lang.L("Password"), f.password),
	)
	title := widget.NewLabelWithStyle(lang.L("Sign in to Magpie"), fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
	f.content = container.NewVBox(title, form, f.remember, f.auto, advanced, f.message, f.progress,
		container.NewHBox(layout.NewSpacer(), f.cancel, f.signIn))
	return f
}

// Object returns the form's content.
func (f *loginForm) Object() fyne.CanvasObject { return f.content }

// Fill puts a saved account into the form.
func (f *loginForm) Fill(account, server string, directTLS, remember, auto bool) {
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
		Remember: f.remember.Checked, Auto: f.auto.Checked,
		Server: server, DirectTLS: f.directTLS.Checked,
	}, nil
}
