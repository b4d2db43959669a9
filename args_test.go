package main

import (
	"strings"
	"testing"
)

// TestOpensApp: links go to the app (and its hand-over), commands to the
// command line, whatever else to the command line's usage error.
func TestOpensApp(t *testing.T) {
	for in, want := range map[string]bool{
		"": true,
		"xmpp:zhangsan@oa.example?message;body=Hello": true,
		"XMPP:a@b":                      true,
		"xmpp:a@b xmpp:c@d":             true,
		"xmpp:bad@":                     true, // the app says what is wrong with it
		"send lisi@oa.example xmpp:x@y": false,
		"login --jid a@b":               false,
		"help":                          false,
		"version":                       false,
		"--help":                        false,
		"frobnicate":                    false,
		"https://oa.example/":           false,
	} {
		if got := opensApp(strings.Fields(in)); got != want {
			t.Errorf("opensApp(%q) = %v, want %v", in, got, want)
		}
	}
}
