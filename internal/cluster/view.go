// Package cluster lets several facmon instances share one district
// without a coordination service of their own: each announces itself on
// the MQTT broker with a retained status and a last will, every instance
// derives from the live members who owns each ward (rendezvous hashing),
// and a Gate lets only the owner write what must exist once in InfluxDB
// (alert events, liveness transitions, availability samples, the scraped
// apps' readings). The others hold those points for a while, so when an
// owner dies the survivor that takes its wards writes what the dead one
// had not made durable, and nothing is missing or written twice.
package cluster

import (
	"slices"
	"time"

	"github.com/cespare/xxhash/v2"
)

// View is who is live, as one instance sees it.
type View struct {
	// Self is this instance.
	Self string
	// Joined is set while this instance is connected and has read the
	// others' statuses; until then it owns nothing.
	Joined bool
	// OnlineAt is when this instance last announced itself: a live owner
	// stops writing a ward once it sees that announcement.
	OnlineAt time.Time
	// Live are the live members, this instance among them when Joined,
	// sorted.
	Live []string
	// DurableThrough is, for each member heard from, the time up to
	// which every point it had to write is durable in its spool.
	DurableThrough map[string]time.Time
}

// Owner is the live member that owns ward, or "" when none is live.
func (v View) Owner(ward string) string { return owner(v.Live, ward) }

// Gone are the members heard from that are not live now, sorted.
func (v View) Gone() []string {
	var out []string
	for m := range v.DurableThrough {
		if m != v.Self && !slices.Contains(v.Live, m) {
			out = append(out, m)
		}
	}
	slices.Sort(out)
	return out
}

// Adopts reports whether this instance is the one that takes the storage
// session of the gone member over: one live member per gone one, by the
// same hashing as the wards.
func (v View) Adopts(gone string) bool {
	return v.Joined && owner(v.Live, "session/"+gone) == v.Self
}

// Owns reports whether this instance owns ward.
func (v View) Owns(ward string) bool { return v.Joined && v.Owner(ward) == v.Self }

// owner picks the member with the highest hash of (member, ward):
// rendezvous hashing, so a member leaving moves only its own wards, and
// each to any of the others with equal chance.
func owner(members []string, ward string) string {
	best, bestScore := "", uint64(0)
	for _, m := range members {
		score := xxhash.Sum64String(m + "\x00" + ward)
		if best == "" || score > bestScore || (score == bestScore && m < best) {
			best, bestScore = m, score
		}
	}
	return best
}

func without(members []string, m string) []string {
	return slices.DeleteFunc(slices.Clone(members), func(x string) bool { return x == m })
}

// handoverFrom says, for a ward this instance gains going from old to
// next, after which time the points it held for that ward were written by
// nobody: zero when nobody owned the ward, the time it announced itself
// when the previous owner is still live (that owner stopped on seeing
// it), and the previous owner's last durable time when it is gone.
func handoverFrom(old, next View, ward string) time.Time {
	prevLive := old.Live
	if !old.Joined {
		prevLive = without(next.Live, next.Self)
	}
	prev := owner(prevLive, ward)
	switch {
	case prev == "" || prev == next.Self:
		return time.Time{}
	case slices.Contains(next.Live, prev):
		return next.OnlineAt
	default:
		return next.DurableThrough[prev]
	}
}
