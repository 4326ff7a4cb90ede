package simulator

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseDevices(t *testing.T) {
	tests := []struct {
		in      string
		want    map[string]int
		wantErr string // substring; "" = no error
	}{
		{in: "door=2,hvac=3,server=1,camera=4", want: map[string]int{"door": 2, "hvac": 3, "server": 1, "camera": 4}},
		{in: " door = 1 , camera=0 ", want: map[string]int{"door": 1, "camera": 0}},
		{in: "hvac=10", want: map[string]int{"hvac": 10}},
		{in: "", wantErr: "empty"},
		{in: "door=2,fridge=1", wantErr: `"fridge=1": unknown class "fridge"`},
		{in: "door", wantErr: `"door": want class=count`},
		{in: "=3", wantErr: `"=3": want class=count`},
		{in: "door=two", wantErr: `count "two" is not a whole number`},
		{in: "door=-1", wantErr: `"door=-1": count -1 out of range`},
		{in: "door=1000", wantErr: "out of range 0..999"},
		{in: "door=1,door=2", wantErr: `"door=2": class door given twice`},
		{in: "door=0,hvac=0", wantErr: "every count is 0"},
		{in: "door=1,,hvac=1", wantErr: `"": want class=count`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseDevices(tt.in)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseFault(t *testing.T) {
	tests := []struct {
		in      string
		want    Fault
		wantErr string
	}{
		{in: "door-stuck-open@thanh-binh/door-1,after=30s,for=2m",
			want: Fault{Kind: FaultDoorStuckOpen, Ward: "thanh-binh", Device: "door-1", After: 30 * time.Second, For: 2 * time.Minute}},
		{in: "ac-failure@hai-chau-1/hvac-3", want: Fault{Kind: FaultACFailure, Ward: "hai-chau-1", Device: "hvac-3"}},
		{in: "camera-not-recording@nam-duong/camera-4,for=10m",
			want: Fault{Kind: FaultCameraNotRecording, Ward: "nam-duong", Device: "camera-4", For: 10 * time.Minute}},
		{in: "disk-filling@binh-hien/server-1,for=5m,after=1m",
			want: Fault{Kind: FaultDiskFilling, Ward: "binh-hien", Device: "server-1", After: time.Minute, For: 5 * time.Minute}},
		{in: "device-offline@thanh-binh/camera-2,after=0s", want: Fault{Kind: FaultDeviceOffline, Ward: "thanh-binh", Device: "camera-2"}},
		{in: "ward-outage@phuoc-ninh,after=1h", want: Fault{Kind: FaultWardOutage, Ward: "phuoc-ninh", After: time.Hour}},

		{in: "door-stuck-open", wantErr: "want KIND@WARD/DEVICE"},
		{in: "@thanh-binh/door-1", wantErr: "want KIND@WARD/DEVICE"},
		{in: "door-jammed@thanh-binh/door-1", wantErr: `unknown kind "door-jammed"`},
		{in: "door-stuck-open@Thanh Binh/door-1", wantErr: `ward "Thanh Binh" is not a ward id`},
		{in: "door-stuck-open@thanh-binh", wantErr: "door-stuck-open needs a device"},
		{in: "door-stuck-open@thanh-binh/hvac-1", wantErr: `device "hvac-1" is a hvac, door-stuck-open needs a door`},
		{in: "ac-failure@thanh-binh/door-1", wantErr: `ac-failure needs a hvac`},
		{in: "camera-not-recording@thanh-binh/server-1", wantErr: "camera-not-recording needs a camera"},
		{in: "disk-filling@thanh-binh/camera-1", wantErr: "disk-filling needs a server"},
		{in: "device-offline@thanh-binh/toaster-1", wantErr: `device "toaster-1": unknown class "toaster"`},
		{in: "device-offline@thanh-binh/door", wantErr: `device "door": want CLASS-N`},
		{in: "device-offline@thanh-binh/door-0", wantErr: `number "0" must be a whole number from 1`},
		{in: "device-offline@thanh-binh/door-01", wantErr: `number "01" must be a whole number from 1`},
		{in: "ward-outage@thanh-binh/door-1", wantErr: `ward-outage applies to a whole ward: drop "/door-1"`},
		{in: "ward-outage@thanh-binh,after=soon", wantErr: `after="soon" is not a duration`},
		{in: "ward-outage@thanh-binh,until=5m", wantErr: `unknown option "until"`},
		{in: "ward-outage@thanh-binh,for", wantErr: `option "for": want after=DURATION`},
		{in: "ward-outage@thanh-binh,for=1m,for=2m", wantErr: `option "for" given twice`},
		{in: "ward-outage@thanh-binh,after=-1s", wantErr: "after=-1s must not be negative"},
		{in: "ward-outage@thanh-binh,for=0s", wantErr: "for=0s must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseFault(tt.in)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.Contains(t, err.Error(), tt.in, "the error names the whole fault")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			again, err := ParseFault(got.String())
			require.NoError(t, err)
			assert.Equal(t, got, again, "String round-trips")
		})
	}
}

func TestNewValidatesFaultsAgainstFleet(t *testing.T) {
	tests := []struct {
		fault   Fault
		wantErr string
	}{
		{Fault{Kind: FaultDeviceOffline, Ward: "son-tra", Device: "door-1"}, `unknown ward "son-tra"`},
		{Fault{Kind: FaultWardOutage, Ward: "son-tra"}, `unknown ward "son-tra"`},
		{Fault{Kind: FaultDoorStuckOpen, Ward: "thanh-binh", Device: "door-3"}, `unknown device "door-3": ward thanh-binh has 2 door device(s)`},
		{Fault{Kind: FaultDoorStuckOpen, Ward: "thanh-binh", Device: "hvac-1"}, "door-stuck-open needs a door"},
		{Fault{Kind: "meltdown", Ward: "thanh-binh", Device: "hvac-1"}, `unknown kind "meltdown"`},
		{Fault{Kind: FaultACFailure, Ward: "thanh-binh", Device: "hvac-1", After: -time.Second}, "must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.fault.String(), func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Faults = []Fault{tt.fault}
			_, err := NewModel(cfg, time.Now())
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}
