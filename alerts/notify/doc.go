// Package notify delivers facmon's alerts to the outside world: Alertmanager
// (API v2) and generic webhooks, without ever blocking the rule evaluation.
//
// # Flow
//
// The alert engine calls Dispatcher.Firing when an alert starts firing, on
// every evaluation while it fires if it likes, and when it escalates (the
// same Alert.ID with the label escalation="1"); Dispatcher.Resolved when it
// ends; and Dispatcher.Restore at start-up for the firing alerts of its
// durable state. Each call returns at once: every notifier has its own
// queue and goroutine.
//
//   - Alertmanager gets every firing alert again every repost_interval
//     (default 1m) with endsAt = now + 4 × repost_interval, so that
//     Alertmanager keeps it active between posts and ends it by itself a
//     few minutes after facmon stops posting (facmon died). A resolution is
//     posted with the real end time, after which the alert is forgotten.
//     Alertmanager's grouping, silences, inhibition, routing and receivers
//     (e-mail, Telegram, webhooks; see deploy/alertmanager/) do the rest.
//     Several URLs (an HA cluster) are all posted to; a post succeeds when
//     one of them accepted it.
//   - A webhook gets each transition once: firing, escalation, resolved.
//
// Requests carry up to batch_size alerts (default 64), gathered for at most
// batch_wait (20ms). Network errors, timeouts, 408, 429 and 5xx are retried
// with capped exponential backoff that honours Retry-After; a notification
// still failing after give_up_after (1h) is dropped with an error log. Other
// 4xx answers are final. Delivery is at least once: receivers may see a
// notification twice.
//
// # Metrics
//
//	facmon_notifications_total{notifier,result="ok|error"}  requests by result
//	facmon_notification_failures_total{notifier}           notifications given up (alert on it)
//	facmon_notifications_dropped_total{notifier}           re-posts dropped from a full queue or superseded
//	facmon_notification_duration_seconds{notifier}         request latency
//	facmon_notification_queue_length{notifier}            notifications waiting
//
// notifier is "alertmanager" or "webhook:NAME".
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
