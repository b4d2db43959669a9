// Magpie is a desktop instant messenger for companies whose office system
// runs an XMPP server. Without arguments it opens the app; with a command it
// drives the same client core from the terminal (see `magpie help`).
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"magpie/app"
	"magpie/app/cli"
	"magpie/xmpp"
	"magpie/xmpp/keyring"
	"magpie/xmpp/xmppuri"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if args := os.Args[1:]; opensApp(args) {
		if err := app.Run(version, args...); err != nil {
			fmt.Fprintln(os.Stderr, "magpie:", err)
			os.Exit(cli.ExitError)
		}
		return
	}
	os.Exit(runCommand(os.Args[1:]))
}

// opensApp reports whether args are for the app (none, or xmpp: links, as
// the desktop passes them for "Exec=magpie %u") rather than a command. The
// commands never go through the app's single-instance hand-over.
func opensApp(args []string) bool {
	return len(args) == 0 || !cli.IsCommand(args[0]) && xmppuri.HasScheme(args[0])
}

func runCommand(args []string) int {
	accounts, err := xmpp.DefaultAccountStore()
	if err != nil {
		fmt.Fprintln(os.Stderr, "magpie:", err)
		return cli.ExitError
	}
	interrupt := make(chan struct{})
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-signals
		close(interrupt)
		// Commands stop on their own (listen signs out first); one blocked
		// in a read that cannot be interrupted (a password prompt, standard
		// input) is ended after a grace period, or by a second Ctrl-C.
		select {
		case <-signals:
		case <-time.After(5 * time.Second):
		}
		os.Exit(cli.ExitInterrupted)
	}()
	return cli.Run(&cli.Env{
		Stdin:     os.Stdin,
		Stdout:    os.Stdout,
		Stderr:    os.Stderr,
		Keyring:   keyring.System(),
		Accounts:  accounts,
		Version:   version,
		Interrupt: interrupt,
	}, args)
}
