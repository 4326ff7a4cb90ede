package loader

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/facmon/facmon/internal/storage"
	"github.com/facmon/facmon/reports"
)

// Querier runs InfluxQL statements; *storage.InfluxQL is one.
type Querier interface {
	Query(ctx context.Context, q string) ([]storage.Result, error)
}

// Collector heartbeat: facmon writes facmon_heartbeat every 30 s; a gap
// longer than CollectorMaxGap, or collecting=0, is time of unknown state.
const (
	CollectorMaxGap      = 90 * time.Second
	heartbeatMeasurement = "facmon_heartbeat"
	// liveness transitions written by facmon (internal/liveness): when they
	// cover the period, gaps come from them instead of a scan of every
	// reading, which is what makes a month of a large fleet quick.
	transitionsMeasurement = "device_liveness"
	statusMeasurement      = "device_status"
	alertMeasurement       = "alert_event"
	wardUnreachable        = "WardUnreachable"
)

// Options tune the queries; the zero value is the default.
type Options struct {
	// Classes are the device classes, one measurement each; default
	// DefaultClasses.
	Classes []string
	// Fields are the telemetry fields of each class (its profile): a
	// reading counts when it has any of them. A class without an entry
	// is read through Field.
	Fields map[string][]string
	// Field stands for a class not in Fields; default "seq", which only
	// readings that sent one carry.
	Field string
	// Lookback is how far before the range the loader looks for a
	// device's last reading and status; default 14 days. A device silent
	// for longer drops out of the report unless the inventory lists it.
	Lookback time.Duration
	// Chunk is the time one gap query covers; default one day. Smaller
	// chunks mean more requests and a finer progress bar.
	Chunk time.Duration
	// Parallel is how many queries run at once; default 4.
	Parallel int
}

// Loader reads a Dataset from InfluxDB with InfluxQL, so it works on 1.8
// and on 2.x with a DBRP mapping.
type Loader struct {
	q    Querier
	opts Options
}

// New returns a loader querying through q.
func New(q Querier, opts Options) *Loader {
	if len(opts.Classes) == 0 {
		opts.Classes = reports.DefaultClasses
	}
	if opts.Field == "" {
		opts.Field = "seq"
	}
	if opts.Lookback <= 0 {
		opts.Lookback = 14 * 24 * time.Hour
	}
	if opts.Chunk <= 0 {
		opts.Chunk = 24 * time.Hour
	}
	if opts.Parallel <= 0 {
		opts.Parallel = 4
	}
	return &Loader{q: q, opts: opts}
}

// InventoryDevice is a device the configuration lists.
type InventoryDevice struct{ Ward, Class, Device string }

// Request says what to read.
type Request struct {
	// From and To bound the data range (a report's previous period start
	// and its end). To later than Now is cut to Now.
	From, To time.Time
	Now      time.Time
	// Ward limits the devices to one ward; empty reads all.
	Ward string
	// MinHeartbeat is the shortest heartbeat of any device: silences up to
	// it are not fetched. MaxHeartbeat is the longest: how far after the
	// range a reading is looked for. Zero means one minute.
	MinHeartbeat, MaxHeartbeat time.Duration
	Inventory                  []InventoryDevice
}

// Progress is told how many of the queries are done.
type Progress func(done, total int)

type devKey struct{ ward, class, device string }

// chunkSummary is what one gap query returned for a device.
type chunkSummary struct {
	first, last time.Time
	gaps        []reports.Interval
}

// Load reads the dataset of req. progress may be nil.
func (l *Loader) Load(ctx context.Context, req Request, progress Progress) (*reports.Dataset, error) {
	if req.Now.IsZero() {
		req.Now = time.Now()
	}
	if req.To.After(req.Now) {
		req.To = req.Now
	}
	if !req.To.After(req.From) {
		return nil, fmt.Errorf("reports: nothing to load: the range ends (%s) before it starts (%s)", req.To.Format(time.RFC3339), req.From.Format(time.RFC3339))
	}
	if req.MinHeartbeat <= 0 {
		req.MinHeartbeat = time.Minute
	}
	if req.MaxHeartbeat < req.MinHeartbeat {
		req.MaxHeartbeat = max(req.MinHeartbeat, time.Minute)
	}
	ds := &reports.Dataset{From: req.From, To: req.To, Now: req.Now, WardOutages: map[string][]reports.Interval{}}

	useTransitions := l.transitionsCover(ctx, req.From, req.To)
	var chunks []reports.Interval
	if useTransitions {
		// Only first and last readings are needed: one query per class
		// for the whole range is as cheap as one per day.
		chunks = []reports.Interval{{Start: req.From, End: req.To}}
	} else {
		for a := req.From; a.Before(req.To); a = a.Add(l.opts.Chunk) {
			end := a.Add(l.opts.Chunk)
			if end.After(req.To) {
				end = req.To
			}
			chunks = append(chunks, reports.Interval{Start: a, End: end})
		}
	}
	// jobs: per class its edges (last before, first after), per class and
	// chunk the gaps, then statuses, heartbeats and ward outages.
	total := len(l.opts.Classes)*(len(chunks)+1) + 3
	var mu, pmu sync.Mutex // mu guards the results, pmu the progress count
	done := 0
	step := func() {
		pmu.Lock()
		defer pmu.Unlock()
		done++
		d := done
		if progress != nil {
			progress(d, total)
		}
	}
	if progress != nil {
		progress(0, total)
	}

	summaries := map[devKey][]chunkSummary{} // per device, indexed by chunk
	before := map[devKey]time.Time{}
	after := map[devKey]time.Time{}
	var status map[devKey][]reports.Transition
	var beats map[string][]beat
	var everBeat bool
	var outages map[string][]reports.Interval

	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(l.opts.Parallel)
	wardCond := ""
	if req.Ward != "" {
		wardCond = " AND ward = " + storage.QuoteString(req.Ward)
	}
	var transGaps map[devKey][]reports.Interval
	if useTransitions {
		total++
		g.Go(func() error {
			q := fmt.Sprintf("SELECT %s, %s FROM %s WHERE time >= %s AND time < %s%s GROUP BY ward, class, device",
				storage.QuoteIdent("up"), storage.QuoteIdent("reason"), storage.QuoteIdent(transitionsMeasurement),
				lit(req.From.Add(-l.opts.Lookback)), lit(req.To.Add(req.MaxHeartbeat+time.Minute)), wardCond)
			res, err := l.q.Query(gctx, q)
			if err != nil {
				return fmt.Errorf("reading liveness transitions: %w", err)
			}
			tg := transitionGaps(res)
			mu.Lock()
			transGaps = tg
			mu.Unlock()
			step()
			return nil
		})
	}
	for _, class := range l.opts.Classes {
		m := storage.QuoteIdent(class)
		fields := l.fieldsOf(class)
		g.Go(func() error {
			q, per := perField(fields, func(field string) []string {
				return []string{
					fmt.Sprintf("SELECT last(%s) FROM %s WHERE time >= %s AND time < %s%s GROUP BY ward, class, device",
						field, m, lit(req.From.Add(-l.opts.Lookback)), lit(req.From), wardCond),
					fmt.Sprintf("SELECT first(%s) FROM %s WHERE time >= %s AND time < %s%s GROUP BY ward, class, device",
						field, m, lit(req.To), lit(req.To.Add(req.MaxHeartbeat+time.Minute)), wardCond),
				}
			})
			res, err := l.q.Query(gctx, q)
			if err != nil {
				return fmt.Errorf("reading %s: %w", class, err)
			}
			mu.Lock()
			defer mu.Unlock()
			for j := range fields {
				eachRow(res, j*per, class, func(k devKey, t time.Time, _ []any) { latest(before, k, t) })
				eachRow(res, j*per+1, class, func(k devKey, t time.Time, _ []any) { earliest(after, k, t) })
			}
			step()
			return nil
		})
		for ci, c := range chunks {
			g.Go(func() error {
				q, per := perField(fields, func(field string) []string {
					st := []string{
						fmt.Sprintf("SELECT first(%s) FROM %s WHERE time >= %s AND time < %s%s GROUP BY ward, class, device",
							field, m, lit(c.Start), lit(c.End), wardCond),
						fmt.Sprintf("SELECT last(%s) FROM %s WHERE time >= %s AND time < %s%s GROUP BY ward, class, device",
							field, m, lit(c.Start), lit(c.End), wardCond),
					}
					if !useTransitions {
						st = append(st, fmt.Sprintf("SELECT gap FROM (SELECT elapsed(%s, 1ms) AS gap FROM %s WHERE time >= %s AND time < %s%s GROUP BY ward, class, device) WHERE gap > %d GROUP BY ward, class, device",
							field, m, lit(c.Start), lit(c.End), wardCond, req.MinHeartbeat.Milliseconds()))
					}
					return st
				})
				res, err := l.q.Query(gctx, q)
				if err != nil {
					return fmt.Errorf("reading %s: %w", class, err)
				}
				spans := map[devKey][]fieldSpan{}
				get := func(k devKey, j int) *fieldSpan {
					s := spans[k]
					if s == nil {
						s = make([]fieldSpan, len(fields))
						spans[k] = s
					}
					return &s[j]
				}
				for j := range fields {
					eachRow(res, j*per, class, func(k devKey, t time.Time, _ []any) { get(k, j).first = t })
					eachRow(res, j*per+1, class, func(k devKey, t time.Time, _ []any) { get(k, j).last = t })
					if per > 2 {
						eachRow(res, j*per+2, class, func(k devKey, t time.Time, row []any) {
							if ms, ok := storage.Int(row[1]); ok {
								get(k, j).gaps = append(get(k, j).gaps, reports.Interval{Start: t.Add(-time.Duration(ms) * time.Millisecond), End: t})
							}
						})
					}
				}
				mu.Lock()
				defer mu.Unlock()
				for k, s := range spans {
					if summaries[k] == nil {
						summaries[k] = make([]chunkSummary, len(chunks))
					}
					summaries[k][ci] = combineFields(s, req.MinHeartbeat)
				}
				step()
				return nil
			})
		}
	}
	g.Go(func() error {
		q := fmt.Sprintf("SELECT %s FROM %s WHERE time >= %s AND time < %s%s GROUP BY ward, class, device",
			storage.QuoteIdent("up"), storage.QuoteIdent(statusMeasurement), lit(req.From.Add(-l.opts.Lookback)), lit(req.To), wardCond)
		res, err := l.q.Query(gctx, q)
		if err != nil {
			return fmt.Errorf("reading device statuses: %w", err)
		}
		st := map[devKey][]reports.Transition{}
		eachRow(res, 0, "", func(k devKey, t time.Time, row []any) {
			up, _ := storage.Int(row[1])
			st[k] = append(st[k], reports.Transition{Time: t, Up: up == 1})
		})
		mu.Lock()
		status = st
		mu.Unlock()
		step()
		return nil
	})
	g.Go(func() error {
		q := fmt.Sprintf("SELECT %s FROM %s WHERE time >= %s AND time < %s GROUP BY instance; SELECT last(%[1]s) FROM %[2]s WHERE time < %[4]s",
			storage.QuoteIdent("collecting"), storage.QuoteIdent(heartbeatMeasurement),
			lit(req.From.Add(-2*CollectorMaxGap)), lit(req.To.Add(2*CollectorMaxGap)))
		res, err := l.q.Query(gctx, q)
		if err != nil {
			return fmt.Errorf("reading facmon heartbeats: %w", err)
		}
		b := map[string][]beat{}
		if len(res) > 0 {
			for _, s := range res[0].Series {
				inst := s.Tags["instance"]
				for i, row := range s.Values {
					c, _ := storage.Int(row[1])
					b[inst] = append(b[inst], beat{s.Time(i), c == 1})
				}
			}
		}
		mu.Lock()
		beats = b
		everBeat = len(res) > 1 && len(res[1].Series) > 0
		mu.Unlock()
		step()
		return nil
	})
	g.Go(func() error {
		q := fmt.Sprintf("SELECT %s, %s FROM %s WHERE alertname = %s AND time >= %s AND time < %s%s GROUP BY ward",
			storage.QuoteIdent("state"), storage.QuoteIdent("id"), storage.QuoteIdent(alertMeasurement), storage.QuoteString(wardUnreachable),
			lit(req.From.Add(-l.opts.Lookback)), lit(req.To), wardCond)
		res, err := l.q.Query(gctx, q)
		if err != nil {
			return fmt.Errorf("reading ward outages: %w", err)
		}
		o := map[string][]reports.Interval{}
		if len(res) > 0 {
			for _, s := range res[0].Series {
				var evs []alertEvent
				si, ii := s.Column("state"), s.Column("id")
				for i, row := range s.Values {
					ev := alertEvent{t: s.Time(i)}
					if si >= 0 {
						ev.state, _ = row[si].(string)
					}
					if ii >= 0 {
						ev.id, _ = row[ii].(string)
					}
					evs = append(evs, ev)
				}
				if ivs := outageIntervals(evs, req.From, req.To); len(ivs) > 0 {
					o[s.Tags["ward"]] = ivs
				}
			}
		}
		mu.Lock()
		outages = o
		mu.Unlock()
		step()
		return nil
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}

	ds.WardOutages = outages
	ds.Unknown, ds.NoHeartbeat = unknownFromBeats(beats, everBeat, req.From, req.To, req.Now)

	// Every device seen anywhere, plus the inventory.
	keys := map[devKey]bool{}
	for k := range summaries {
		keys[k] = true
	}
	for k := range before {
		keys[k] = true
	}
	for k := range after {
		keys[k] = true
	}
	for k := range status {
		keys[k] = true
	}
	inventory := map[devKey]bool{}
	for _, d := range req.Inventory {
		if req.Ward != "" && d.Ward != req.Ward {
			continue
		}
		k := devKey{d.Ward, d.Class, d.Device}
		inventory[k] = true
		keys[k] = true
	}
	sorted := make([]devKey, 0, len(keys))
	for k := range keys {
		if k.ward == "" || k.device == "" || k.class == "" {
			continue
		}
		sorted = append(sorted, k)
	}
	sort.Slice(sorted, func(i, j int) bool {
		a, b := sorted[i], sorted[j]
		if a.ward != b.ward {
			return a.ward < b.ward
		}
		if a.class != b.class {
			return a.class < b.class
		}
		return a.device < b.device
	})
	for _, k := range sorted {
		d := reports.DeviceData{Ward: k.ward, Class: k.class, Device: k.device, Inventory: inventory[k], Status: status[k]}
		d.Telemetry = stitch(summaries[k], req.MinHeartbeat)
		if g := transGaps[k]; len(g) > 0 {
			d.Telemetry.Gaps = reports.Merge(append(d.Telemetry.Gaps, g...))
		}
		d.Telemetry.Before = before[k]
		d.Telemetry.After = after[k]
		slices.SortStableFunc(d.Status, func(a, b reports.Transition) int { return a.Time.Compare(b.Time) })
		ds.Devices = append(ds.Devices, d)
	}
	return ds, nil
}

func lit(t time.Time) string { return storage.TimeLiteral(t) }

// transitionsCover reports whether facmon's liveness transitions describe
// every silence of [from, to): they reach back to from, or to the first
// heartbeat facmon wrote (before it, facmon was not collecting, and that
// time is unknown whatever the readings say), as on a new installation or
// after a backfill. Data written before facmon recorded them is read the
// slow way, a scan of every reading.
func (l *Loader) transitionsCover(ctx context.Context, from, to time.Time) bool {
	q := fmt.Sprintf("SELECT first(%s) FROM %s WHERE time < %s; SELECT first(%s) FROM %s WHERE time < %[3]s",
		storage.QuoteIdent("up"), storage.QuoteIdent(transitionsMeasurement), lit(to),
		storage.QuoteIdent("collecting"), storage.QuoteIdent(heartbeatMeasurement))
	res, err := l.q.Query(ctx, q)
	first := func(i int) (time.Time, bool) {
		if err != nil || len(res) <= i || len(res[i].Series) == 0 || len(res[i].Series[0].Values) == 0 {
			return time.Time{}, false
		}
		return res[i].Series[0].Time(0), true
	}
	since, ok := first(0)
	if !ok {
		return false
	}
	if !since.After(from) {
		return true
	}
	// The first transition is written when the device's first reading is
	// judged, within a few seconds of the first heartbeat.
	beat, ok := first(1)
	return ok && !since.After(beat.Add(CollectorMaxGap))
}
