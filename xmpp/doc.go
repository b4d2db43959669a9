// Package xmpp is Magpie's client core: it signs in to an XMPP server and
// keeps the session, and it never imports the UI.
//
// # Shape
//
// A front end (the Fyne app, the command line) creates a Client with New and
// options, calls Connect, then reads the one stream of typed events from
// Events (StateChanged, RosterUpdated, PresenceChanged, MessageReceived, ...)
// and drives the client through methods that take a context and return an
// error (SendMessage, SetPresence, AddContact, ...). The password is a
// function, so the core never knows where it is kept; package keyring keeps
// it in the OS keyring.
//
// # Connecting
//
// The socket goes to the server given with WithServer, or to the targets of
// the domain's SRV records. The stream is secured with STARTTLS (required),
// or with TLS from the first byte under WithDirectTLS. With pinned SHA-256
// fingerprints the certificate must be one of them (a pin is exclusive: a CA
// vouching for another certificate does not help, the Reason is
// ErrNotPinned); without, it must chain to the system roots (or a CA file)
// and name the domain. A failure is a *CertificateError carrying the
// fingerprint, so a UI can ask the user and pin it. There is no switch that
// accepts any certificate.
//
// SASL prefers SCRAM-SHA-256-PLUS, then SCRAM-SHA-1-PLUS, SCRAM-SHA-256,
// SCRAM-SHA-1 and PLAIN, but never goes below the account's floor: the
// strongest mechanism the server has offered (channel binding counts once a
// sign-in with it has worked), kept by the front ends with WithSASLFloor and
// SASLFloor. A server offering only weaker ones is refused with a
// *DowngradeError before any credential is sent. When a -PLUS exchange
// fails in a way that means the server cannot do channel binding
// (malformed-request, invalid-mechanism), the client retries once without
// it; any other failure is the answer. A SCRAM iteration count above
// 1,000,000 is refused (*SCRAMIterationsError). Both wrap ErrUnsafeSignIn,
// which ends the reconnecting like a wrong password.
//
// # Staying connected
//
// When the link has been quiet for a while the client pings the server, and
// drops the connection when no answer comes. A lost session is re-established
// with exponential backoff and jitter; the roster is fetched and the presence
// sent again. Retrying stops only on errors it cannot fix (ErrAuth,
// ErrCertificate).
//
// # The company
//
// The roster is cached in the store with its version (XEP-0237), so an
// unchanged company roster is shown from the cache and not downloaded.
// Profiles (vCard-temp, XEP-0054) are fetched lazily and cached for a day
// (Profile, FetchProfile, SetProfile); avatars come from presence hashes
// (XEP-0153) and PEP (XEP-0084, AvatarChanged), are checked against their
// SHA-1 and stored by hash (Avatar, SetAvatar publishes both ways). The
// company directory (XEP-0055) is found through disco and searched with
// one query string, whatever form the server uses (DirectoryServices,
// SearchDirectory).
//
// # Notices
//
// Companies push alerts over XMPP: approvals waiting in the OA system,
// meetings moved, announcements. Shown apart from chats, a notice speaks
// for the company, so only the company may send one: a message is a
// notice, not a chat, when it is of type normal (or has no type) or
// headline and comes from
//   - the account's server domain itself (e.g. Prosody's mod_motd and
//     mod_announce, which always sends headlines, or an OA system wired
//     into the server),
//   - broadcast.DOMAIN,
//   - or a notifier account named with WithNoticeSenders (or later
//     SetNoticeSenders), as provisioning does.
//
// Anyone else's normal or headline message is a chat message from them:
// many clients send chats as type normal or without a type, and a headline
// from a colleague's or a stranger's account ("Approve payment" and a link)
// is that person's word, not the company's. Its subject, which a chat has
// no place for, becomes the first line of its text. A notice needs a body
// or a subject. Notice.Sender says why its sender may send notices (the
// server, a notifier account; NoticeUnverified for one an older version
// stored, when every headline was a notice), by the notifier accounts
// named now; ClassifyNoticeSender is the same rule for front ends that
// read the store alone. Front ends show the full From with that mark, never
// a display name, which the sender chooses.
//
// Notices are reported as NoticeReceived and, with a store, kept in its
// inbox with a read flag (Notices, UnreadNotices, MarkNoticeRead,
// MarkNoticesRead), once: a copy delivered again is dropped. Servers seldom
// keep headlines offline or archive them, so the store may hold the only
// copy. Notices are not taken from the archive (its first sync would bring
// back years of them); those sent while the user was offline arrive from
// offline storage at sign-in with a delay stamp, marked Delayed, so a front
// end can summarise them instead of raising one alert each.
//
// # Time
//
// A message's time (Message.Time, Notice.Time) is when it reached the
// client, unless someone the client trusts says it was sent earlier: a
// delay stamp (XEP-0203) added by the own server (its domain: offline
// storage; the own bare JID: stream management holding stanzas while the
// client was away), by the own archive (XEP-0313) or a room's, or, on a
// group chat message, by the room (join history). The delay's from
// attribute says who added it. A stamp the sender wrote is ignored: a peer
// could otherwise date a message 2099 and pin its conversation to the top
// (conversations are ordered by their newest message), drag later stamped
// messages after it, or date one 1970 to slip it in among old ones; an
// occupant could claim a nick's earlier owner's messages. No stamp is
// later than the arrival. A stamped message is never placed before what its
// conversation already holds (see the store writer), and the archive
// catch-up's bookmark records the archive id with the time the message
// arrived, never a time from the message.
//
// # Group chat
//
// Rooms (XEP-0045) are joined with JoinRoom and rejoined after every
// reconnect, and within a session when the room service restarted (a 332
// removal, or a room answering not-acceptable); a temporary error from a
// restarting service is retried with growing pauses, only a definite
// refusal gives the room up. One join of a room runs at a time, and none
// sends its presence after LeaveRoom. Messages typed while a room is
// rejoined wait in the outbox and go out once it is back, as does a message
// the room refused with not-acceptable (written again as the same message,
// not reported failed); they fail
// (MessageStateChanged with DeliveryFailed and Err) if the room is given
// up. A room left with LeaveRoom is not autojoined again after a reconnect
// of the same Client (WithAutojoin). The history comes from the
// room's archive (XEP-0313 on the room) where it has one, else from the
// join history, after the newest stored message of the room; the store's
// duplicate rules (the room's stanza-id, origin-id) keep every message
// once. Own messages are told by what the room vouches for, never by what
// the sender put in the message: the room's occupant id (XEP-0421), the nick
// it stamps live and the real JID its presence gives for it, in the archive
// the real JID the archive appends (see ownRoomMessage); this device's own
// also by their origin-id in the store. RoomMessage.Mention
// marks messages that name the own nick (Mentions) or reference the own
// occupant (XEP-0372); RoomNotify and SetRoomNotify keep the per-room
// notification level in the store for the app to act on (read once per
// room, then from memory).
//
// Private messages with an occupant (XEP-0045 §7.5: type chat, from or to
// room@service/nick) are one-to-one messages marked Message.Private, never
// room messages or notices: they are told by the occupant's room being one
// the client is in or joining, or by the muc#user element rooms add to them
// (so also in the archive and in carbons) when they come from a room the
// client knows (see roomkind.go); a stranger's chat with that element stays
// a chat with the stranger. Their conversation, in the store
// and for History, is the occupant's full JID (Message.Peer), apart from the
// room's. SendMessage to an occupant of a room the client is in sends one,
// with that element, through the room's outbox.
//
// Who may say what about the messages the client sent: the server
// acknowledges (stream management, or the answer to a ping), the room's
// bare JID echoes, fails or refuses a room message, the occupant confirms
// or fails a private message, the contact (any of its devices) a chat; an
// error or receipt from anyone else with a message's id changes nothing
// (see deliveryKeys). A mediated invitation or decline counts only from a
// room; a direct one names its sender as the inviter.
//
// # Handlers
//
// Stanza handlers only translate: decode, update state, emit an event. They
// never send on the session from inside Serve (that deadlocks); IQ answers go
// through the encoder a handler is given. Work that waits for an IQ reply
// runs outside Serve.
//
// Nothing a peer or the server sends ends the session: a handler never
// returns an error into Serve for bad input, only for a failed write. IQs
// are routed by the client itself, not by mellium's mux (which returned an
// error for an IQ whose first child is text, or an empty error IQ): a get
// or set that is not exactly one child element is answered bad-request, a
// result or error nobody waits for is dropped. Below mellium, the bytes the
// server sends pass a guard that moves an element in the stream namespace
// inside a stanza to a namespace of its own, because mellium's reader takes
// any such element for a stream-level event and ends the session on it.
//
// # Strangers
//
// Anyone can address the client, so what others can make it keep or report
// is bounded (flood.go): presence is kept only for contacts, the account's
// own resources and joined rooms' occupants; a subscription request is
// reported once per sender in ten minutes; an invitation once per room in
// ten minutes, and at most five from one inviter; a photo above 1 MiB is
// not taken. The software version answer (XEP-0092) names no operating
// system.
package xmpp
