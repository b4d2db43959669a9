package app

import (
	"testing"

	"fyne.io/fyne/v2/test"
)

func TestLoginValidation(t *testing.T) {
	for name, tc := range map[string]struct {
		domain, account, password, server string
		wantErr                           string
		wantAccount, wantServer           string
	}{
		"user name completed with the default domain": {domain: "oa.example", account: "zhangsan", password: "pw", wantAccount: "zhangsan@oa.example"},
		"full account kept":                           {domain: "oa.example", account: "lisi@other.example", password: "pw", wantAccount: "lisi@other.example"},
		"resource dropped":                            {account: "lisi@oa.example/phone", password: "pw", wantAccount: "lisi@oa.example"},
		"no domain known":                             {account: "zhangsan", password: "pw", wantErr: "Enter your full account, such as zhangsan@company.example."},
		"empty account":                               {account: "  ", password: "pw", wantErr: "Enter your account."},
		"empty password":                              {account: "a@b.example", wantErr: "Enter your password."},
		"bad port":                                    {account: "a@b.example", password: "pw", server: "im.b.example:99999", wantErr: "The server must be a host name, optionally with a port, such as im.company.example:5222."},
		"server without port":                         {account: "a@b.example", password: "pw", server: "im.b.example", wantAccount: "a@b.example", wantServer: "im.b.example"},
		"server with port":                            {account: "a@b.example", password: "pw", server: " im.b.example:5333 ", wantAccount: "a@b.example", wantServer: "im.b.example:5333"},
	} {
		t.Run(name, func(t *testing.T) {
			test.NewTempApp(t)
			var got *loginRequest
			f := newLoginForm(tc.domain, func(r loginRequest) { got = &r }, nil)
			test.NewTempWindow(t, f.Object())
			test.Type(f.account, tc.account)
			test.Type(f.password, tc.password)
			test.Type(f.server, tc.server)
			test.Tap(f.signIn)
			if tc.wantErr != "" {
				want := tc.wantErr
				if got != nil || !f.message.Visible() || f.message.Text != want {
					t.Fatalf("submitted %+v; message %q (visible %v), want %q", got, f.message.Text, f.message.Visible(), want)
				}
				return
			}
			if got == nil {
				t.Fatalf("not submitted; message %q", f.message.Text)
			}
			if got.Account != tc.wantAccount || got.Server != tc.wantServer || got.Password != tc.password {
				t.Fatalf("request %+v", *got)
			}
		})
	}
}

func TestLoginBusyAndRememberChecks(t *testing.T) {
	test.NewTempApp(t)
	cancelled := false
	f := newLoginForm("oa.example", func(loginRequest) {}, func() { cancelled = true })
	test.NewTempWindow(t, f.Object())
	f.SetBusy(true)
	if !f.account.Disabled() || !f.signIn.Disabled() || !f.cancel.Visible() || !f.progress.Visible() {
		t.Fatal("busy form must lock the fields and show progress and Cancel")
	}
	test.Tap(f.cancel)
	if !cancelled {
		t.Fatal("Cancel did not cancel")
	}
	f.SetBusy(false)
	if f.account.Disabled() || f.cancel.Visible() {
		t.Fatal("form still busy")
	}
	// Signing in automatically needs a remembered password, and forgetting
	// the password turns automatic sign-in off.
	f.remember.SetChecked(false)
	f.auto.SetChecked(true)
	if !f.remember.Checked {
		t.Fatal("auto sign-in without remembering the password")
	}
	f.remember.SetChecked(false)
	if f.auto.Checked {
		t.Fatal("auto sign-in left on without a remembered password")
	}
	f.ShowError("Wrong user name or password.")
	if !f.message.Visible() || f.message.Text != "Wrong user name or password." {
		t.Fatal("error not shown")
	}
}
