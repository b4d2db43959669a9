package app

import (
	"errors"
	"strings"

	"fyne.io/fyne/v2/lang"

	"magpie/xmpp"
	"magpie/xmpp/provision"
)

// describeProvisionError says which provisioning file is broken and where,
// one line per problem, for the login window. Magpie carries on without
// that file.
func describeProvisionError(err error) string {
	var lines []string
	var visit func(error)
	visit = func(err error) {
		if joined, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range joined.Unwrap() {
				visit(e)
			}
			return
		}
		var pe *provision.Error
		if !errors.As(err, &pe) {
			lines = append(lines, err.Error())
			return
		}
		problem := pe.Msg
		if pe.Key != "" && !strings.HasPrefix(problem, pe.Key) {
			problem = pe.Key + ": " + problem
		}
		if pe.Line > 0 {
			lines = append(lines, lang.L("{{.File}}, line {{.Line}}: {{.Problem}}",
				map[string]any{"File": pe.Path, "Line": pe.Line, "Problem": problem}))
		} else {
			lines = append(lines, lang.L("{{.File}}: {{.Problem}}", map[string]any{"File": pe.Path, "Problem": problem}))
		}
	}
	visit(err)
	const most = 5
	if len(lines) > most {
		lines = append(lines[:most], "…")
	}
	return lang.L("The provisioning file from your IT department has errors, so Magpie does not use it:") + "\n" + strings.Join(lines, "\n")
}

// describeProvisionWarnings says which keys of the user's provisioning file
// were left out because IT's file decides them, and warns when the user's
// file (which any program running as the user could have written) decides
// which certificates are trusted. "" when there is nothing to say.
func describeProvisionWarnings(warnings []*provision.Warning) string {
	var lines []string
	for _, w := range warnings {
		args := map[string]any{"File": w.Path, "Line": w.Line, "Key": w.Key}
		switch w.Kind {
		case provision.UserTrust:
			lines = append(lines, lang.L("Your own provisioning file {{.File}} (line {{.Line}}, {{.Key}}) decides which server certificates Magpie trusts, without asking you. Unless you put it there, delete it: it could let someone read your messages.", args))
		default:
			lines = append(lines, lang.L("{{.File}}, line {{.Line}}: {{.Key}} is ignored: your IT department's provisioning decides it.", args))
		}
	}
	return strings.Join(lines, "\n")
}

// describeProvisionedCertificate explains a certificate that does not match
// what IT provisioned: there is nothing for the user to decide.
func describeProvisionedCertificate(ce *xmpp.CertificateError) string {
	return lang.L("The server {{.Server}} presented a certificate that your IT department's settings do not trust (SHA-256 {{.Fingerprint}}). Magpie did not connect. Tell your IT department.",
		map[string]any{"Server": ce.Domain, "Fingerprint": xmpp.FormatFingerprint(ce.Fingerprint)})
}
