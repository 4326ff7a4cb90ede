package i18n

import (
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var verbs = regexp.MustCompile(`%[sdqv]`)

func TestCatalogueComplete(t *testing.T) {
	for _, k := range Keys() {
		e := catalogue[k]
		assert.NotEmpty(t, e.vi, "%s has no Vietnamese", k)
		assert.NotEmpty(t, e.en, "%s has no English", k)
		assert.Equal(t, verbs.FindAllString(e.en, -1), verbs.FindAllString(e.vi, -1), "%s: both languages take the same arguments", k)
	}
	assert.Equal(t, "⟦nope⟧", VI.T("nope"))
	assert.Equal(t, "Máy chủ và UPS", VI.Class("server"))
	assert.Equal(t, "lift", EN.Class("lift"))
}

func TestParse(t *testing.T) {
	for in, want := range map[string]Lang{"": VI, "vi": VI, "VI": VI, "en": EN, "en-GB": EN} {
		l, err := Parse(in)
		require.NoError(t, err)
		assert.Equal(t, want, l)
	}
	_, err := Parse("fr")
	assert.EqualError(t, err, `unknown language "fr" (want vi or en)`)
}

func TestFormats(t *testing.T) {
	loc, _ := time.LoadLocation("Asia/Ho_Chi_Minh")
	ts := time.Date(2026, 3, 5, 14, 7, 0, 0, loc)
	assert.Equal(t, "05/03/2026", VI.Date(ts))
	assert.Equal(t, "05/03/2026 14:07", VI.DateTime(ts))
	assert.Equal(t, "2026-03-05 14:07", EN.DateTime(ts))
	assert.Equal(t, "T5", VI.Weekday(ts))
	assert.Equal(t, "CN", VI.Weekday(ts.AddDate(0, 0, 3)))
	assert.Equal(t, "Thu", EN.Weekday(ts))
	assert.Equal(t, "1.234.567,89", VI.Number(1234567.891, 2))
	assert.Equal(t, "1,234,567.89", EN.Number(1234567.891, 2))
	assert.Equal(t, "99,52 %", VI.Percent(99.5249, 2))
	assert.Equal(t, "100.00%", EN.Percent(100, 2))
	assert.Equal(t, "+0,12", VI.Signed(0.1234, 2))
	assert.Equal(t, "−1.50", EN.Signed(-1.5, 2))
	assert.Equal(t, "0,00", VI.Signed(-0.0001, 2), "no sign on a change that rounds to zero")
	assert.Equal(t, "2 giờ 5 phút", VI.Duration(2*time.Hour+5*time.Minute+3*time.Second))
	assert.Equal(t, "3 d 4 h", EN.Duration(76*time.Hour+59*time.Minute))
	assert.Equal(t, "45 giây", VI.Duration(45*time.Second))
	assert.Equal(t, "0 s", EN.Duration(0))
	assert.Equal(t, "1 h", EN.Duration(time.Hour+30*time.Second))
	assert.Equal(t, "180 giờ", VI.HoursMinutes(180*time.Hour))
	assert.Equal(t, "76 h 59 min", EN.HoursMinutes(76*time.Hour+59*time.Minute))
	assert.Equal(t, "90,5", VI.Minutes(90*time.Minute+30*time.Second))
}
