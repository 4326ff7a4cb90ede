// Package notify delivers facmon's alerts to the outside world: the Alert the
// engine sends, the Alertmanager (API v2, with its silences) and webhook Notifiers
// built from the notifiers' configuration, and the errors that tell the dispatcher
// (package dispatch) what to retry. Package silence turns acknowledgements into
// Alertmanager silences.
//
// # Webhook payload
//
//	POST <url>
//	Content-Type: application/json
//	X-Facmon-Timestamp: 1795400100
//	X-Facmon-Signature: sha256=5d0b…
//
//	{"version":"1","status":"firing","alerts":[{"id":"…","status":"firing",
//	  "labels":{"alertname":"DoorStuckOpen","severity":"critical","ward":"thanh-binh",
//	            "class":"door","device":"door-1"},
//	  "annotations":{"summary_vi":"…","summary_en":"…"},
//	  "startsAt":"2026-11-23T02:15:00Z","generatorURL":"http://facmon…/alerts/…",
//	  "acknowledged":false}]}
//
// status is "firing" when any alert of the request fires, else "resolved";
// each alert has its own status, and endsAt once resolved.
//
// # Verifying the signature
//
// With secret_file set, every request carries X-Facmon-Timestamp (Unix
// seconds at signing) and X-Facmon-Signature: "sha256=" followed by the
// lowercase hex HMAC-SHA256, keyed with the secret file's content (without
// its trailing newline), of the timestamp, a ".", and the raw body:
//
//	signature = "sha256=" + hex(HMAC_SHA256(secret, timestamp + "." + body))
//
// A receiver:
//
//  1. reads the raw body bytes before any JSON parsing (re-encoding changes them);
//  2. recomputes the signature from the X-Facmon-Timestamp header and the body;
//  3. compares it with X-Facmon-Signature in constant time;
//  4. refuses a timestamp more than a few minutes from its own clock, so that a
//     captured request cannot be replayed later.
//
// In Go, VerifySignature does all of it. In a shell, for a body saved in
// body.json:
//
//	printf '%s.' "$TIMESTAMP" | cat - body.json |
//	  openssl dgst -sha256 -hmac "$(cat secret)" | sed 's/^.* /sha256=/'
//
// In Python:
//
//	mac = hmac.new(secret, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
//	ok = hmac.compare_digest("sha256=" + mac, request.headers["X-Facmon-Signature"])
//	ok = ok and abs(time.time() - int(ts)) < 300
//
// The timestamp is signed with the body so that it cannot be changed to
// replay an old request.
package notify
