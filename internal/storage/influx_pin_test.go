package storage

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/facmon/facmon/internal/testenv/influxdb"
)

// Commit lends its batch buffer to the InfluxDB client as a string without
// a copy (unsafeString): the client must only read it during the call.
// This pins that against the real client and InfluxDB 1.8: the buffer is
// overwritten in place after each commit, and every point is stored as it
// was sent. A client that kept the string (an async queue, a retry
// buffer) would store the later bytes.
func TestInfluxClientDoesNotKeepTheLentBatch(t *testing.T) {
	db := influxdb.Start(t, influxdb.WithoutFlux())
	w := NewInflux(InfluxOptions{URL: db.URL, Bucket: "facmon_pin", Timeout: 5 * time.Second, MaxRetryInterval: time.Second, CreateDatabase: true},
		nil, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	defer w.Close()
	t0 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC).UnixNano()
	buf := []byte("door,ward=thanh-binh,class=door,device=door-1 cycles=111i 0000000000000000001\n")
	at := len(buf) - 20 // the timestamp's digits
	for i, cycles := range []string{"111", "222", "333"} {
		copy(buf[len("door,ward=thanh-binh,class=door,device=door-1 cycles="):], cycles)
		copy(buf[at:at+19], itoa19(t0+int64(i)*int64(time.Second)))
		require.NoError(t, w.Commit(context.Background(), buf, 1))
	}
	copy(buf, make([]byte, len(buf))) // the buffer reused for something else
	time.Sleep(200 * time.Millisecond)
	rows := db.Query(t, "facmon_pin", `SELECT cycles FROM door`)
	require.Len(t, rows, 1)
	require.Len(t, rows[0].Values, 3, "one point per commit")
	for i, want := range []int64{111, 222, 333} {
		n, _ := influxdb.AsInt64(rows[0].Values[i][1])
		assert.Equal(t, want, n, "point %d stored as sent", i)
	}
}

func itoa19(n int64) string {
	s := make([]byte, 19)
	for i := 18; i >= 0; i-- {
		s[i] = byte('0' + n%10)
		n /= 10
	}
	return string(s)
}
