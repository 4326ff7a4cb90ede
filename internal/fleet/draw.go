package fleet

import (
	"hash/fnv"
	"math"
	"math/rand/v2"
)

// HashUnit maps (seed, label, n) to a stable number in [0, 1).
func HashUnit(seed int64, label string, n int) float64 {
	return float64(Hash64(seed, label, n)>>11) / (1 << 53)
}

// Hash64 maps (seed, label, n) to a stable, well-spread 64-bit number: the
// seed of a device's or ward's own random stream.
func Hash64(seed int64, label string, n int) uint64 {
	h := fnv.New64a()
	var b [16]byte
	for i := range 8 {
		b[i] = byte(uint64(seed) >> (8 * i))
		b[8+i] = byte(uint64(n) >> (8 * i))
	}
	h.Write(b[:])
	h.Write([]byte(label))
	// FNV alone leaves neighbouring inputs with similar high bits; the splitmix64
	// finaliser spreads them so that per-device phases and offsets look independent.
	x := h.Sum64()
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// Poisson draws a Poisson-distributed count (Knuth; λ stays small per step).
func Poisson(r *rand.Rand, lambda float64) int64 {
	if lambda <= 0 {
		return 0
	}
	if lambda > 30 {
		return int64(math.Max(0, math.Round(lambda+math.Sqrt(lambda)*r.NormFloat64())))
	}
	l, k, p := math.Exp(-lambda), int64(0), 1.0
	for {
		p *= r.Float64()
		if p <= l {
			return k
		}
		k++
	}
}
