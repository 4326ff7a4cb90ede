package loader

import (
	"time"

	"github.com/facmon/facmon/reports"
)

// hcm is the offices' time zone (UTC+7, no daylight saving).
var hcm = time.FixedZone("ICT", 7*3600)

// at parses a local time of the offices, "2026-03-02 09:00" or with seconds.
func at(s string) time.Time {
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, hcm); err == nil {
			return t
		}
	}
	panic("bad time " + s)
}

func iv(a, b string) reports.Interval { return reports.Interval{Start: at(a), End: at(b)} }
