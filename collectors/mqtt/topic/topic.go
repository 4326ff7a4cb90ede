// Package topic compiles topic patterns with named segments, such as
// "facmon/{ward}/{class}/{device}/telemetry", and matches MQTT topics
// against them without allocating.
package topic

import (
	"fmt"
	"strings"
)

// Names of the segments a pattern may capture.
const (
	Ward   = "ward"
	Class  = "class"
	Device = "device"
	Site   = "site"
	Room   = "room"
)

var captureNames = map[string]bool{Ward: true, Class: true, Device: true, Site: true, Room: true}

type segKind uint8

const (
	literal segKind = iota
	capture
	single // "+"
	multi  // "#", last only
)

type segment struct {
	kind segKind
	text string // literal text or capture name
}

// Pattern is a compiled topic pattern.
type Pattern struct {
	source   string
	segments []segment
}

// Captures holds what a match extracted; empty when not captured.
type Captures struct {
	Ward, Class, Device, Site, Room string
}

// Compile parses a pattern. Errors name the offending segment.
func Compile(p string) (*Pattern, error) {
	if p == "" {
		return nil, fmt.Errorf("empty pattern")
	}
	parts := strings.Split(p, "/")
	pat := &Pattern{source: p, segments: make([]segment, 0, len(parts))}
	seen := map[string]bool{}
	for i, s := range parts {
		switch {
		case s == "#":
			if i != len(parts)-1 {
				return nil, fmt.Errorf("segment %d: '#' must be the last segment", i+1)
			}
			pat.segments = append(pat.segments, segment{kind: multi})
		case s == "+":
			pat.segments = append(pat.segments, segment{kind: single})
		case strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}"):
			name := s[1 : len(s)-1]
			if !captureNames[name] {
				return nil, fmt.Errorf("segment %d: unknown name {%s} (want ward, class, device, site or room)", i+1, name)
			}
			if seen[name] {
				return nil, fmt.Errorf("segment %d: {%s} captured twice", i+1, name)
			}
			seen[name] = true
			pat.segments = append(pat.segments, segment{kind: capture, text: name})
		case strings.ContainsAny(s, "{}+#"):
			return nil, fmt.Errorf("segment %d %q: wildcards and {names} must fill a whole segment", i+1, s)
		default:
			pat.segments = append(pat.segments, segment{kind: literal, text: s})
		}
	}
	return pat, nil
}

// String returns the pattern as written.
func (p *Pattern) String() string { return p.source }

// Filter is the MQTT subscription filter that covers the pattern.
func (p *Pattern) Filter() string {
	var b strings.Builder
	for i, s := range p.segments {
		if i > 0 {
			b.WriteByte('/')
		}
		switch s.kind {
		case literal:
			b.WriteString(s.text)
		case capture, single:
			b.WriteByte('+')
		case multi:
			b.WriteByte('#')
		}
	}
	return b.String()
}

// Captures reports whether the pattern captures the named segment.
func (p *Pattern) Captures(name string) bool {
	for _, s := range p.segments {
		if s.kind == capture && s.text == name {
			return true
		}
	}
	return false
}

// Match matches a topic and fills c with the captured segments.
func (p *Pattern) Match(topic string, c *Captures) bool {
	*c = Captures{}
	rest := topic
	for i, s := range p.segments {
		if s.kind == multi {
			return true
		}
		if i > 0 {
			if len(rest) == 0 || rest[0] != '/' {
				return false
			}
			rest = rest[1:]
		}
		end := strings.IndexByte(rest, '/')
		if end < 0 {
			end = len(rest)
		}
		level := rest[:end]
		rest = rest[end:]
		switch s.kind {
		case literal:
			if level != s.text {
				return false
			}
		case capture:
			switch s.text {
			case Ward:
				c.Ward = level
			case Class:
				c.Class = level
			case Device:
				c.Device = level
			case Site:
				c.Site = level
			case Room:
				c.Room = level
			}
		}
	}
	return len(rest) == 0
}
