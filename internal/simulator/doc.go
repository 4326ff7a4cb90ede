// Package simulator simulates a fleet of one-stop office devices (automatic doors, air
// conditioners, a server with its UPS, IP cameras) publishing over MQTT, for the demo,
// load tests, integration tests and fault drills.
//
// This package is the model, and it is pure: given the Config, the start time and the
// times at which readings are taken, Model returns the same payloads byte for byte, so
// the behaviour is tested without a broker. simulator/publisher is the transport: it
// schedules readings, owns the MQTT connections and injects connection faults. Who the
// wards and devices are, their topics and the office day come from internal/fleet, which
// the fault tests' publisher shares; simulator/apps serves the wards' one-stop apps.
//
// # Why the devices behave as they do
//
// The point of the simulator is to make dashboards, alerts and reports look and fail as
// they would with real offices, so the curves follow how a ward office works:
//
//   - Office hours are those of Vietnamese one-stop offices: Monday to Friday 07:30–11:30
//     and 13:30–17:00, Saturday morning 07:30–11:30, local time (Asia/Ho_Chi_Minh, UTC+7,
//     no daylight saving). Holidays (Tết, 2 September, ...) belong to the office calendar
//     of the configuration, not to the simulator, and are not modelled.
//   - A crowd curve drives everything that depends on people: citizens queue before the
//     doors open, the morning peak is the largest, lunch and the last hour are quiet;
//     Monday is busier, Friday afternoon calmer, Saturday about two thirds of a weekday,
//     Sunday empty. Each ward gets a fixed share of the busiest office.
//   - Doors cycle about twice a minute in a full waiting room and a few times a night
//     (guard, cleaner), drawn from a Poisson process, so the counter is monotonic and its
//     rate is what the dashboards show. motor_current_a is the peak current of the last
//     movement (1.2–1.6 A, slightly more on worn doors) and 0 when the door did not move.
//     A stuck-open door keeps fault 0: the usual cause is a presence sensor that sees
//     someone, which the controller does not treat as a fault, so an alert must look at
//     state and cycles rather than at the fault code.
//   - Đà Nẵng's air is ~25 °C before dawn and ~33 °C mid-afternoon, a few degrees cooler
//     in the north-east monsoon months, with a per-day swing shared by all wards. Air
//     conditioners run in office hours only (off at lunch too) at a 25–26 °C setpoint; the
//     room settles a little above the setpoint as people fill it and the compressor draws
//     more the hotter it is outside and the fuller the room. Switched off, the room drifts
//     to the outdoor temperature over a couple of hours.
//   - The server's CPU follows the crowd plus a nightly backup at 02:00, memory is stable,
//     the disk grows with scanned dossiers (~0.1 % a busy day), the UPS stays on mains.
//   - Cameras record 24/7 at 25 fps; the bitrate rises with motion and with noisy infrared
//     night images; NVR storage is a daily sawtooth, filling through the day and purged of
//     the oldest day at midnight.
//
// Every telemetry payload carries ts, the simulated time of the reading in epoch
// milliseconds, and seq, a per-device counter starting at 1 that counts the messages
// handed to the broker in this run; a gap in seq therefore means a message was lost. Floats
// always carry a decimal point (25.0, not 25), so that a collector deriving the field type
// from the JSON text never sees one field change type.
//
// # Faults
//
// Faults are given as KIND@WARD/DEVICE or KIND@WARD (see ParseFault) and are timed from the
// start of Run. Payload faults (door-stuck-open, ac-failure, camera-not-recording,
// disk-filling) are part of the model. Connection faults (device-offline, ward-outage) cut
// the TCP connection without an MQTT DISCONNECT, so the broker publishes the device's last
// will exactly as it would for a real network failure; when the fault ends the device
// reconnects and publishes "online" retained. In gateway mode, where devices have no last
// will of their own, the gateway publishes "offline" for the devices concerned instead.
package simulator
