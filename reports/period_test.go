package reports_test

import (
	"testing"
	"time"

	"github.com/facmon/facmon/reports"
)

func TestPreviousPeriod(t *testing.T) {
	ict := time.FixedZone("ICT", 7*3600)
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, ict)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	cases := []struct {
		name             string
		from, to         string
		wantFrom, wantTo string
	}{
		{"December compares with November", "2026-12-01 00:00", "2027-01-01 00:00", "2026-11-01 00:00", "2026-12-01 00:00"},
		{"March compares with February", "2026-03-01 00:00", "2026-04-01 00:00", "2026-02-01 00:00", "2026-03-01 00:00"},
		{"January compares with December", "2026-01-01 00:00", "2026-02-01 00:00", "2025-12-01 00:00", "2026-01-01 00:00"},
		{"leap February compares with January", "2028-02-01 00:00", "2028-03-01 00:00", "2028-01-01 00:00", "2028-02-01 00:00"},
		{"a year compares with the year before", "2026-01-01 00:00", "2027-01-01 00:00", "2025-01-01 00:00", "2026-01-01 00:00"},
		{"an ISO week compares with the week before", "2026-11-30 00:00", "2026-12-07 00:00", "2026-11-23 00:00", "2026-11-30 00:00"},
		{"seven days not from a Monday: same length", "2026-12-02 00:00", "2026-12-09 00:00", "2026-11-25 00:00", "2026-12-02 00:00"},
		{"a part month: same length", "2026-12-01 00:00", "2026-12-16 00:00", "2026-11-16 00:00", "2026-12-01 00:00"},
		{"two months: same length", "2026-10-01 00:00", "2026-12-01 00:00", "2026-08-01 00:00", "2026-10-01 00:00"},
		{"a month not from midnight: same length", "2026-12-01 08:00", "2027-01-01 08:00", "2026-10-31 08:00", "2026-12-01 08:00"},
		{"last 30 days: same length", "2026-11-05 00:00", "2026-12-05 00:00", "2026-10-06 00:00", "2026-11-05 00:00"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := reports.Period{From: at(c.from), To: at(c.to)}.Previous()
			if !got.From.Equal(at(c.wantFrom)) || !got.To.Equal(at(c.wantTo)) {
				t.Errorf("Previous of %s – %s = %s – %s, want %s – %s", c.from, c.to,
					got.From.In(ict).Format("2006-01-02 15:04"), got.To.In(ict).Format("2006-01-02 15:04"), c.wantFrom, c.wantTo)
			}
		})
	}
}

// A month given in UTC is still the local calendar month once In puts it
// in the offices' zone, as Build and the generator do.
func TestPreviousPeriodInOfficeZone(t *testing.T) {
	ict := time.FixedZone("ICT", 7*3600)
	dec := reports.Period{From: time.Date(2026, 11, 30, 17, 0, 0, 0, time.UTC), To: time.Date(2026, 12, 31, 17, 0, 0, 0, time.UTC)}
	got := dec.In(ict).Previous()
	if want := time.Date(2026, 11, 1, 0, 0, 0, 0, ict); !got.From.Equal(want) {
		t.Errorf("previous of December (given in UTC) starts %s, want %s", got.From, want)
	}
}
