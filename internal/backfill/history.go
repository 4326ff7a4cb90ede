package backfill

import (
	"context"
	"fmt"
	"time"

	"github.com/facmon/facmon/internal/storage"
)

// RefuseBadPoints is the poison policy of a backfill's writer: the backfill
// writes only points facmon itself encoded, so InfluxDB refusing one is a
// bug to report, not a point to set aside.
type RefuseBadPoints struct{}

// Poison fails the write.
func (RefuseBadPoints) Poison(line []byte, status int, msg string) error {
	return fmt.Errorf("InfluxDB refused a point (%d %s): %.200s", status, msg, line)
}

// HasHistory reports whether InfluxDB already holds a day of facmon's
// heartbeats before the window's end: a database a backfill or a run
// already filled.
func HasHistory(ctx context.Context, q *storage.InfluxQL, before time.Time) (bool, error) {
	res, err := q.Query(ctx, fmt.Sprintf("SELECT count(collecting) FROM facmon_heartbeat WHERE time < %d", before.Add(-24*time.Hour).UnixNano()))
	if err != nil {
		if storage.IsDatabaseNotFound(err) {
			return false, nil // a new installation: the first write creates it
		}
		return false, err
	}
	for _, r := range res {
		for _, s := range r.Series {
			for i := range s.Values {
				if n, ok := storage.Int(s.Values[i][s.Column("count")]); ok && n > 0 {
					return true, nil
				}
			}
		}
	}
	return false, nil
}
