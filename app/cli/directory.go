package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"magpie/xmpp"
)

// runDirectory searches the company directory (XEP-0055) and prints who
// it finds: address, name, department and email.
func runDirectory(env *Env, args []string) int {
	var cf connFlags
	fs := newFlagSet(env, "directory", &cf, true)
	asJSON := fs.Bool("json", false, "print one JSON object per colleague")
	// Flags may follow the query too: magpie directory 张 --json.
	var words []string
	for {
		if !parse(fs, args) {
			return ExitUsage
		}
		if fs.NArg() == 0 {
			break
		}
		words, args = append(words, fs.Arg(0)), fs.Args()[1:]
	}
	query := strings.TrimSpace(strings.Join(words, " "))
	if query == "" {
		return fail(env, cf.jid, usageError("directory needs something to search for: magpie directory --jid JID NAME"))
	}
	c, closeAll, account, err := signInQuietly(env, &cf)
	if err != nil {
		return fail(env, account, err)
	}
	defer closeAll()
	ctx, cancel := context.WithTimeout(env.ctx, 30*time.Second)
	defer cancel()
	entries, err := c.SearchDirectory(ctx, query)
	if err != nil {
		return fail(env, account, describeDirectoryError(err))
	}
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetEscapeHTML(false)
		for _, e := range entries {
			out := map[string]any{"jid": e.JID.String()}
			for key, value := range map[string]string{"name": e.Name, "nick": e.Nick, "email": e.Email,
				"organisation": e.Org, "unit": e.Unit, "title": e.Title} {
				if value != "" {
					out[key] = value
				}
			}
			if len(e.Fields) > 0 {
				out["fields"] = e.Fields
			}
			_ = enc.Encode(out)
		}
		return ExitOK
	}
	if len(entries) == 0 {
		fmt.Fprintf(env.Stdout, "No colleagues match %q.\n", query)
		return ExitOK
	}
	w := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	for _, e := range entries {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", e.JID, e.DisplayName(), e.Unit, e.Email)
	}
	_ = w.Flush()
	return ExitOK
}

// describeDirectoryError words the failures a search can have.
func describeDirectoryError(err error) error {
	var se *xmpp.StanzaError
	switch {
	case errors.Is(err, xmpp.ErrNoDirectory):
		return fmt.Errorf("this server has no company directory (%w)", err)
	case errors.As(err, &se) && se.Condition == "not-acceptable":
		return fmt.Errorf("the directory refused the search (%s); type more of the name", se)
	case errors.As(err, &se) && (se.Condition == "not-allowed" || se.Condition == "forbidden"):
		return fmt.Errorf("the directory does not let this account search (%s)", se)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("the directory did not answer in time: %w", err)
	}
	return err
}
