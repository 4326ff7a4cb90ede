package service

import "time"

// alignedTicker ticks at the wall clock's multiples of its period.
type alignedTicker struct {
	C    <-chan time.Time
	stop chan struct{}
}

func newAlignedTicker(d time.Duration) *alignedTicker {
	c := make(chan time.Time, 1)
	t := &alignedTicker{C: c, stop: make(chan struct{})}
	go func() {
		for {
			now := time.Now()
			wait := time.NewTimer(now.Truncate(d).Add(d).Sub(now))
			select {
			case <-t.stop:
				wait.Stop()
				return
			case at := <-wait.C:
				select {
				case c <- at:
				default: // the reader is behind: skip a tick as time.Ticker does
				}
			}
		}
	}()
	return t
}

// Stop ends the ticks.
func (t *alignedTicker) Stop() { close(t.stop) }
