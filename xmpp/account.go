package xmpp

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
)

// AccountConfig is how to reach one account: everything but the password,
// which only the keyring holds. `magpie login` writes it and every front end
// (the command line, the app) reads it, so an account set up once works
// everywhere.
type AccountConfig struct {
	JID string `json:"jid"`
	// Server is host:port when the domain's SRV records are not to be used.
	Server    string `json:"server,omitempty"`
	DirectTLS bool   `json:"direct_tls,omitempty"`
	// Fingerprints are pinned certificate SHA-256s (lowercase hex).
	Fingerprints []string `json:"fingerprints,omitempty"`
	CAFile       string   `json:"ca_file,omitempty"`
	Resource     string   `json:"resource,omitempty"`
	// SASLFloor is the weakest SASL mechanism accepted for the account
	// (Client.SASLFloor after the last sign-in): a server offering only
	// weaker ones is refused as a downgrade.
	SASLFloor string `json:"sasl_floor,omitempty"`
}

// Options returns the client options the configuration stands for.
func (a AccountConfig) Options() []Option {
	var opts []Option
	if a.Server != "" {
		opts = append(opts, WithServer(a.Server))
	}
	if a.DirectTLS {
		opts = append(opts, WithDirectTLS(true))
	}
	if len(a.Fingerprints) > 0 {
		opts = append(opts, WithTrustedFingerprints(a.Fingerprints...))
	}
	if a.CAFile != "" {
		opts = append(opts, WithCAFile(a.CAFile))
	}
	if a.Resource != "" {
		opts = append(opts, WithResource(a.Resource))
	}
	if a.SASLFloor != "" {
		opts = append(opts, WithSASLFloor(a.SASLFloor))
	}
	return opts
}

// AccountStore keeps AccountConfigs in a JSON file (by default
// $XDG_CONFIG_HOME/magpie/accounts.json). It is safe for concurrent use
// within one process; writes replace the file atomically.
type AccountStore struct {
	path string
	mu   sync.Mutex
}

// NewAccountStore returns a store backed by the file at path.
func NewAccountStore(path string) *AccountStore { return &AccountStore{path: path} }

// DefaultAccountStore returns the store in the user's configuration folder.
func DefaultAccountStore() (*AccountStore, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return nil, fmt.Errorf("xmpp: find the configuration folder: %w", err)
	}
	return NewAccountStore(filepath.Join(dir, "magpie", "accounts.json")), nil
}

// Path returns the file the store uses.
func (s *AccountStore) Path() string { return s.path }

type accountFile struct {
	Accounts []AccountConfig `json:"accounts"`
}

func (s *AccountStore) read() (accountFile, error) {
	var f accountFile
	b, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return f, fmt.Errorf("xmpp: read accounts: %w", err)
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return f, fmt.Errorf("xmpp: accounts file %s is damaged: %w", s.path, err)
	}
	return f, nil
}

// List returns all saved accounts, sorted by JID.
func (s *AccountStore) List() ([]AccountConfig, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.read()
	sort.Slice(f.Accounts, func(i, j int) bool { return f.Accounts[i].JID < f.Accounts[j].JID })
	return f.Accounts, err
}

// Get returns the saved configuration of an account.
func (s *AccountStore) Get(account string) (AccountConfig, bool, error) {
	list, err := s.List()
	for _, a := range list {
		if a.JID == account {
			return a, true, err
		}
	}
	return AccountConfig{}, false, err
}

// Save adds or replaces an account's configuration.
func (s *AccountStore) Save(a AccountConfig) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := s.read()
	if err != nil {
		return err
	}
	replaced := false
	for i := range f.Accounts {
		if f.Accounts[i].JID == a.JID {
			f.Accounts[i], replaced = a, true
		}
	}
	if !replaced {
		f.Accounts = append(f.Accounts, a)
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return fmt.Errorf("xmpp: save accounts: %w", err)
	}
	tmp := s.path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("xmpp: save accounts: %w", err)
	}
	if err := os.Rename(tmp, s.path); err != nil {
		return fmt.Errorf("xmpp: save accounts: %w", err)
	}
	return nil
}
