package prosodytest

import (
	"fmt"
	"os"
	"path/filepath"
)

// notifyModule lets the server's administrator have the server send a
// message in its own name, as an OA system wired into the server does
// (Prosody's mod_announce only reaches users who are online, and always
// as a headline). It runs as a component: a message from an admin to
// USER@COMPONENT goes on to USER@notify_parent from notify_from, with its
// type, subject and body. The server routes it like any other message: to
// the user's sessions, or, for type normal while the user is offline, into
// offline storage (which keeps normal and chat messages, not headlines).
const notifyModule = `local jid = require "util.jid";
local st = require "util.stanza";
local is_admin = require "core.usermanager".is_admin;
local parent = module:get_option_string("notify_parent");
local from = module:get_option_string("notify_from", parent);

module:hook("message/bare", function(event)
	local stanza = event.stanza;
	if not is_admin(stanza.attr.from, parent) then
		module:log("warn", "non-admin %s tried to send a notice", tostring(stanza.attr.from));
		return true;
	end
	local user = jid.split(stanza.attr.to);
	local msg = st.clone(stanza);
	msg.attr.from = from;
	msg.attr.to = user .. "@" .. parent;
	module:send(msg);
	return true;
end);
`

// NoticeOptions returns o set up for notices: admin (a user name, e.g.
// "admin") is the server's administrator; mod_announce lets it send a
// headline from the server to everyone online (a message to
// DOMAIN/announce/online); and two components running mod_magpie_notify
// (written into pluginDir) let it have the server send one user a message
// of any type, online or not: to USER@notify.DOMAIN, it comes from DOMAIN;
// to USER@broadcast.DOMAIN, from broadcast.DOMAIN. Bare addresses, so any
// client can send them. It sets plugin_paths, so other modules of one's
// own must go into pluginDir too.
func NoticeOptions(o Options, admin, pluginDir string) (Options, error) {
	if o.Domain == "" {
		o.Domain = "magpie.test"
	}
	if err := os.WriteFile(filepath.Join(pluginDir, "mod_magpie_notify.lua"), []byte(notifyModule), 0o644); err != nil {
		return o, fmt.Errorf("prosodytest: %w", err)
	}
	o.Modules = append(o.Modules, "announce")
	o.ExtraConfig += fmt.Sprintf("\nadmins = { %q }\nplugin_paths = { %q }\n", admin+"@"+o.Domain, pluginDir)
	o.Components = append(o.Components,
		Component{Domain: "notify." + o.Domain, Module: "magpie_notify", Config: fmt.Sprintf("\tnotify_parent = %q", o.Domain)},
		Component{Domain: "broadcast." + o.Domain, Module: "magpie_notify",
			Config: fmt.Sprintf("\tnotify_parent = %q\n\tnotify_from = %q", o.Domain, "broadcast."+o.Domain)})
	return o, nil
}
