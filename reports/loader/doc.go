// Package loader reads the Dataset of a report from InfluxDB with InfluxQL,
// so it works on 1.8 and 2.x alike: per device the edges of its readings,
// its silences longer than the minimum heartbeat (from device_liveness
// when those transitions cover the period, else from a scan of the
// readings, field by field of the class's profile), its device_status
// changes, facmon's own heartbeats (the times nobody was collecting) and
// the ward outages raised as alerts. reports.Build turns the Dataset into a
// report; this package does no maths on availability.
package loader
