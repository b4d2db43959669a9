package cli

import (
	"fmt"
	"strings"

	"magpie/xmpp/provision"
)

// loadProvisioning reads what IT provisioned for the commands. A broken
// file is reported on standard error, with its line, and left out: the
// command carries on with the rest.
func loadProvisioning(env *Env) {
	load := env.Provisioning
	if load == nil {
		load = provision.LoadDefault
	}
	cfg, err := load()
	if cfg == nil {
		cfg = &provision.Config{RememberPasswords: true}
	}
	env.provision = cfg
	if err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintf(env.Stderr, "magpie: provisioning file ignored: %s\n", line)
		}
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintf(env.Stderr, "magpie: warning: %s\n", w)
	}
}

// runProvisioning checks provisioning files and prints the settings they
// give: the given files, or the system's and the user's.
func runProvisioning(env *Env, args []string) int {
	if len(args) > 0 && strings.HasPrefix(args[0], "-") {
		if args[0] == "-h" || args[0] == "--help" {
			fmt.Fprintln(env.Stdout, "Usage: magpie provisioning [FILE...]\n\nChecks the provisioning files (by default "+strings.Join(provision.DefaultPaths(), " and ")+")\nand prints the settings they give; exit status 1 when one is broken.")
			return ExitOK
		}
		return fail(env, "", usageError("provisioning takes file names, no flags"))
	}
	var cfg *provision.Config
	var err error
	switch {
	case len(args) > 0:
		cfg, err = provision.Load(args...)
	case env.Provisioning != nil:
		cfg, err = env.Provisioning()
	default:
		cfg, err = provision.LoadDefault()
	}
	if err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintln(env.Stderr, "magpie: "+line)
		}
	}
	if cfg != nil {
		for _, w := range cfg.Warnings {
			fmt.Fprintf(env.Stderr, "magpie: warning: %s\n", w)
		}
	}
	if cfg == nil || !cfg.Provisioned() {
		paths := args
		if len(paths) == 0 {
			paths = provision.DefaultPaths()
		}
		fmt.Fprintf(env.Stdout, "No provisioning: none of %s could be used.\n", strings.Join(paths, ", "))
		if err != nil {
			return ExitError
		}
		return ExitOK
	}
	w := env.Stdout
	fmt.Fprintf(w, "files:             %s\n", strings.Join(cfg.Files, ", "))
	show := func(name, value string) {
		if value != "" {
			fmt.Fprintf(w, "%-18s %s\n", name+":", value)
		}
	}
	show("company", cfg.Company)
	show("domain", cfg.Domain)
	if cfg.HasServer() {
		tls := string(cfg.TLS)
		if tls == "" {
			tls = string(provision.StartTLS)
		}
		show("server", cfg.ServerAddr()+" ("+tls+")")
	}
	for _, fp := range cfg.Fingerprints {
		show("trust fingerprint", fp)
	}
	show("trust CA file", cfg.CAFile)
	show("notice senders", strings.Join(cfg.NoticeSenders, ", "))
	if cfg.RememberPasswords {
		show("passwords", "may be remembered")
	} else {
		show("passwords", "never remembered")
	}
	if err != nil {
		return ExitError
	}
	return ExitOK
}
