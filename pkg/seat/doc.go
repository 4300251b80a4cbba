// Package seat is the client of the airseal seat server (license-server):
// a program takes a seat of a product from the on-premise server, keeps it
// with heartbeats and gives it back (docs/spec/seat-protocol-v1.md).
//
//	c, err := seat.New(seat.Config{
//		Servers: []string{"https://lic1.corp:9099", "lic2.corp"}, // tried in order
//		Keyring: vendorKeys,                                       // compiled into the product
//		Product: "acme-erp",
//		User:    "erp", Token: token,                               // license-server token add erp
//		CAFile:  "/etc/acme/license-ca.pem",                        // pinned CA (optional)
//		OnLost:  func(l *seat.Lease, err error) { /* save work, go demo */ },
//	})
//	lease, err := c.Checkout(ctx, seat.Request{})
//	defer lease.Close(ctx)
//
// # Servers and failover
//
// Servers are tried in order (the 1C licensing server's ServerAddr, then
// its ReservedServers), each with a short connect timeout, in up to
// Config.Attempts passes with backoff. A lease carries over to the next
// server with the same ClientSessionID: checkout is idempotent on the
// server, so a retry after a network blip keeps its one seat, and a node of
// the same cluster hands back the same lease.
//
// # Heartbeats and grace
//
// The lease renews itself every RenewEvery (the server says; at most half
// the lease's lifetime). When no server answers, the client keeps the seat
// and retries with backoff until the lease's signed Expires — counted on
// this machine's monotonic clock from when the answer arrived, so a clock
// set back does not stretch it — or Config.Grace if shorter; then OnLost
// is called with ErrGraceEnded. Grace is never longer than the lease the
// server signed: by then the server has given the seat to someone else.
// A seat taken away by the server (410: its license removed, revoked or
// expired) or refused at failover (no seat free) is lost at once. A demo-
// mode session asks for a seat at each heartbeat; OnModeChange reports
// when it gets one (and the reverse).
//
// # Security
//
// The customer runs the server and controls the network, so the client
// trusts nothing the server says until it proves itself:
//
//   - GET /api/serverinfo must present a v2 server license that verifies
//     with the vendor's keys in Config.Keyring (never a key the server
//     supplies); v1 licenses, other vendors' licenses, altered, expired or
//     revoked ones are refused (ErrUntrustedServer). The license names the
//     response keys of the server's nodes. It is cached per base URL,
//     verified again every TrustTTL and at the expiry of any license whose
//     keys are trusted, and fetched again when an answer names a key it
//     does not list or carries a Licence-Set other than the one verified
//     (a license removed or replaced on the server): then an answer is
//     accepted only if a license that verifies now names its key.
//   - Every answer must echo the random 128-bit Licence-QueryID this client
//     sent (ErrReplay otherwise), be signed by a node key of that license
//     over the query ID, method, path, status, time and body
//     (ErrUntrustedServer), and carry a Licence-Time within MaxResponseAge of
//     this machine's clock (ErrReplay and ErrClockSkew). Bodies are read up
//     to MaxResponseSize. Redirects are not followed; no proxy from the
//     environment is used.
//   - Refusals that cannot be verified (a 401 before the license could be
//     fetched) are reported but never taken as a verdict: the next server is
//     tried. Grants always need a verified answer.
//   - The newest signed server time is a clock floor (Client.ClockFloor,
//     saved in Config.State): pass it to license checks to catch a clock
//     set back.
//
// What it does not guarantee: a customer who extracts the response key
// from his own licensed server machine can run a server that signs what he
// likes; the key is encrypted at rest and the license binds the node to its
// machine, which raises the cost but cannot make it impossible. A server
// with no license at all cannot prove itself, so its demo-mode answers are
// refused like any other: a product without a trusted server runs on its
// own built-in demo limits. Plain http:// is accepted on loopback only
// (Config.AllowHTTP for others): the answers stay signed, but the token is
// readable on the network.
package seat
