// Package reports computes the uptime reports of the ward offices:
// availability, downtime, incidents, MTTR, MTBF and the SLA per device,
// rolled up to device class, ward and district, for a period and the
// previous period of the same length. reports/loader reads the Dataset from
// InfluxDB, reports/render writes the reports as HTML,
// CSV and XLSX; reports/uptime makes them from the configuration for the
// command line and the web server.
//
// # The maths
//
// The input is a Dataset: per device its device_status changes and a
// summary of its telemetry (the silences longer than its heartbeat), the
// times facmon was not collecting, and the ward network outages. Build is
// a pure function of it and the Settings.
//
//   - A device is down from its last reading when it sends nothing for
//     longer than its heartbeat, until its next reading. An "offline"
//     status counts until "online", but for at most one heartbeat when the
//     device keeps publishing (a stale retained status).
//   - Only office hours count: each ward's calendar (Mon–Fri 07:30–11:30 and
//     13:30–17:00, Sat 07:30–11:30, Asia/Ho_Chi_Minh, no holidays), or 24/7.
//   - Within them every minute is, in this order of precedence: planned (a
//     maintenance window covers the device), unknown (facmon was not
//     collecting), network (the device was down while its ward was
//     unreachable, from a heartbeat and WardOutageLead before the alert
//     fired to a heartbeat after it resolved), down, or up.
//   - Availability = up ÷ (up + down); planned, unknown and network time
//     count neither way. An incident is one outage with counted downtime:
//     an outage over the lunch break, a night or the period boundary is one
//     incident with the counted parts summed. MTTR = down ÷ incidents, MTBF
//     = up ÷ incidents.
//   - A device new in the range counts from its first record; a device in
//     the inventory that never reported is down all the time.
package reports
