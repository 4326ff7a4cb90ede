package i18n

import (
	"strconv"
	"strings"
)

// NaturalCompare orders labels as people read them: "door-2" before
// "door-10". The status page and the reports list devices the same way.
func NaturalCompare(a, b string) int {
	for a != "" && b != "" {
		da, db := digitsPrefix(a), digitsPrefix(b)
		if da > 0 && db > 0 {
			na, _ := strconv.Atoi(a[:da])
			nb, _ := strconv.Atoi(b[:db])
			if na != nb {
				return na - nb
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return int(a[0]) - int(b[0])
		}
		a, b = a[1:], b[1:]
	}
	return strings.Compare(a, b)
}

// digitsPrefix is the length of s's leading run of digits, at most 9 so
// Atoi cannot overflow.
func digitsPrefix(s string) int {
	n := 0
	for n < len(s) && n < 9 && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	return n
}
