// Package fleet is the model of the offices and their devices that every
// producer of telemetry shares: the simulator, its one-stop apps and the
// numbered publisher of the fault tests. It names the wards and devices,
// gives the topics they publish on, says when an office is open and how
// busy it is, and holds the seeded draws that make a simulated fleet
// reproducible. It knows nothing of MQTT or of facmon's configuration.
package fleet

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
)

// Device classes, in the order devices are listed and numbered in.
const (
	ClassDoor   = "door"
	ClassHVAC   = "hvac"
	ClassServer = "server"
	ClassCamera = "camera"
)

// Classes lists the device classes of an office.
func Classes() []string {
	return []string{ClassDoor, ClassHVAC, ClassServer, ClassCamera}
}

// Status payloads, retained on the status topic; offline is also the last will.
const (
	StatusOnline  = "online"
	StatusOffline = "offline"
)

// Ward is one office: its slug (used in topics and as the InfluxDB tag) and display name.
type Ward struct {
	ID   string
	Name string
}

// DefaultWards returns the 13 ward offices of Hải Châu district that opened electronic
// one-stop offices in 2015.
func DefaultWards() []Ward {
	return []Ward{
		{"thanh-binh", "Thanh Bình"},
		{"thuan-phuoc", "Thuận Phước"},
		{"thach-thang", "Thạch Thang"},
		{"hai-chau-1", "Hải Châu I"},
		{"hai-chau-2", "Hải Châu II"},
		{"phuoc-ninh", "Phước Ninh"},
		{"hoa-thuan-tay", "Hòa Thuận Tây"},
		{"hoa-thuan-dong", "Hòa Thuận Đông"},
		{"nam-duong", "Nam Dương"},
		{"binh-hien", "Bình Hiên"},
		{"binh-thuan", "Bình Thuận"},
		{"hoa-cuong-bac", "Hòa Cường Bắc"},
		{"hoa-cuong-nam", "Hòa Cường Nam"},
	}
}

// DefaultDevices is a typical office: two automatic doors, three air conditioners
// (waiting room, back office, server corner), one server with its UPS, four cameras.
func DefaultDevices() map[string]int {
	return map[string]int{ClassDoor: 2, ClassHVAC: 3, ClassServer: 1, ClassCamera: 4}
}

// slugRe matches ids that are safe as an MQTT topic level and an InfluxDB tag value.
var slugRe = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// IsSlug reports whether id is safe as an MQTT topic level and an InfluxDB tag value.
func IsSlug(id string) bool { return slugRe.MatchString(id) }

// ValidateWards checks that there are wards, each with a slug id listed
// once; devices and apps name their topics after them.
func ValidateWards(wards []Ward) []error {
	var errs []error
	if len(wards) == 0 {
		errs = append(errs, errors.New("wards: at least one ward is needed"))
	}
	seen := map[string]bool{}
	for i, w := range wards {
		switch {
		case !IsSlug(w.ID):
			errs = append(errs, fmt.Errorf("ward %d id %q: must be an ASCII slug (a-z, 0-9, '-')", i+1, w.ID))
		case seen[w.ID]:
			errs = append(errs, fmt.Errorf("ward %q listed twice", w.ID))
		}
		seen[w.ID] = true
	}
	return errs
}

// Device identifies one device of the fleet.
type Device struct {
	Ward  string
	Class string
	ID    string // door-1, hvac-2, ...
}

// DeviceID names the n-th device (from 1) of a class.
func DeviceID(class string, n int) string { return class + "-" + strconv.Itoa(n) }

// TelemetryTopic is where the device publishes its readings.
func (d Device) TelemetryTopic(prefix string) string {
	return prefix + "/" + d.Ward + "/" + d.Class + "/" + d.ID + "/telemetry"
}

// StatusTopic carries the retained online/offline status and the last will.
func (d Device) StatusTopic(prefix string) string {
	return prefix + "/" + d.Ward + "/" + d.Class + "/" + d.ID + "/status"
}

// Offices lists the devices of offices that each have perClass devices of
// a class: wards in order, then classes in Classes order, numbered from 1
// in each ward.
func Offices(wards []Ward, perClass map[string]int) []Device {
	var out []Device
	for _, w := range wards {
		for _, class := range Classes() {
			for i := 1; i <= perClass[class]; i++ {
				out = append(out, Device{Ward: w.ID, Class: class, ID: DeviceID(class, i)})
			}
		}
	}
	return out
}

// Spread lists n devices of one class dealt round robin over the wards and
// numbered from 1 across all of them, so that each id names one device of
// the whole fleet: what a test needs that keys readings by device alone.
func Spread(wardIDs []string, class string, n int) []Device {
	out := make([]Device, n)
	for i := range out {
		out[i] = Device{Ward: wardIDs[i%len(wardIDs)], Class: class, ID: DeviceID(class, i+1)}
	}
	return out
}
