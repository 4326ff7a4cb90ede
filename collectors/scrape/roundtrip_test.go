package scrape

import (
	"fmt"
	"slices"
	"strings"

	"github.com/influxdata/line-protocol/v2/lineprotocol"

	"github.com/facmon/facmon/internal/reading"
)

// roundTrip decodes encoded line protocol with the strict decoder and
// checks it holds exactly the readings, point for point: the storage
// encoder runs lax (it trusts names to be validated), so a name the
// mapping let through unchecked would corrupt a batch rather than fail.
func roundTrip(lp []byte, rs []*reading.Reading) error {
	dec := lineprotocol.NewDecoderWithBytes(lp)
	i := 0
	for dec.Next() {
		if i >= len(rs) {
			return fmt.Errorf("more points than the %d readings", len(rs))
		}
		r := rs[i]
		m, err := dec.Measurement()
		if err != nil {
			return fmt.Errorf("point %d: %w", i, err)
		}
		if string(m) != r.Measurement {
			return fmt.Errorf("point %d: measurement %q, want %q", i, m, r.Measurement)
		}
		var got []string
		for {
			k, v, err := dec.NextTag()
			if err != nil {
				return fmt.Errorf("point %d (%s): %w", i, r.Measurement, err)
			}
			if k == nil {
				break
			}
			got = append(got, string(k)+"="+string(v))
		}
		want := []string{"class=" + r.Class, "device=" + r.Device, "ward=" + r.Ward}
		for _, t := range r.Extra {
			want = append(want, t.Key+"="+t.Value)
		}
		slices.Sort(want)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			return fmt.Errorf("point %d (%s): tags %q, want %q", i, r.Measurement, got, want)
		}
		n := 0
		for {
			k, _, err := dec.NextField()
			if err != nil {
				return fmt.Errorf("point %d (%s): %w", i, r.Measurement, err)
			}
			if k == nil {
				break
			}
			if _, ok := r.Field(string(k)); !ok {
				return fmt.Errorf("point %d (%s): field %q not in the reading", i, r.Measurement, k)
			}
			n++
		}
		if n != len(r.Fields) {
			return fmt.Errorf("point %d (%s): %d fields, want %d", i, r.Measurement, n, len(r.Fields))
		}
		if _, err := dec.Time(lineprotocol.Nanosecond, r.Time); err != nil {
			return fmt.Errorf("point %d (%s): %w", i, r.Measurement, err)
		}
		i++
	}
	if err := dec.Err(); err != nil {
		return err
	}
	if i != len(rs) {
		return fmt.Errorf("%d points, want %d", i, len(rs))
	}
	return nil
}
