package hwid

import "testing"

func TestNormalizeString(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"To Be Filled By O.E.M.", ""},
		{"  Default string  ", ""},
		{"to be filled by o.e.m", ""},
		{"0123456789", ""},
		{"System Serial Number", ""},
		{"Not Specified", ""},
		{"None", ""},
		{"N/A", ""},
		{"00000000", ""},
		{"XXXXXXXX", ""},
		{"abc", ""}, // too short
		{"Unknown", ""},
		{"MKF_PROCESSOR_SERIAL_NO_1", ""},
		{"6MET61WW (1.24 )", "6MET61WW (1.24 )"},
		{"Intel(R) Core(TM) i7 CPU       M 620  @ 2.67GHz", "Intel(R) Core(TM) i7 CPU M 620 @ 2.67GHz"},
		{"PowerEdge R440", "PowerEdge R440"},
	} {
		if got := normalizeString(c.in); got != c.want {
			t.Errorf("normalizeString(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestNormalizeSerial(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"2YBVXK3", "2YBVXK3"},
		{" R96KY83 \n", "R96KY83"},
		{"--------", ""},
		{"0", ""},
		{"1234567890", ""},
		{"...A...", ""},
		{"Default string", ""},
		{"SN12345678", ""},
		{".2YBVXK3.CNFCP001B301ND.", ".2YBVXK3.CNFCP001B301ND."},
	} {
		if got := normalizeSerial(c.in); got != c.want {
			t.Errorf("normalizeSerial(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestNormalizeUUID(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"00000000-0000-0000-0000-000000000000", ""},
		{"FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF", ""},
		{"03000200-0400-0500-0006-000700080009", ""},
		{"00020003-0004-0005-0006-000700080009", ""}, // the same default read the other way
		{"8a95d198-7f46-11e5-bf8b-08002704d48e", ""},
		{"00000000-0000-0000-0000-002590C7C000", ""}, // a MAC padded with zeros
		{"not-a-uuid", ""},
		{"4c4c4544-0059-4210", ""},
		// Case and byte order do not matter: both give the canonical form.
		{"4C4C4544-0059-4210-8056-B2C04F584B33", "44454c4c-5900-1042-8056-b2c04f584b33"},
		{"4c4c4544-0059-4210-8056-b2c04f584b33", "44454c4c-5900-1042-8056-b2c04f584b33"},
		{"44454c4c-5900-1042-8056-b2c04f584b33", "44454c4c-5900-1042-8056-b2c04f584b33"},
		{"806f8c2b-5cb1-df11-9cfd-b727e82cf6bb", "2b8c6f80-b15c-11df-9cfd-b727e82cf6bb"},
		{"2B8C6F80-B15C-11DF-9CFD-B727E82CF6BB", "2b8c6f80-b15c-11df-9cfd-b727e82cf6bb"},
	} {
		if got := normalizeUUID(c.in); got != c.want {
			t.Errorf("normalizeUUID(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestNormalizeMAC(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"F0:DE:F1:12:34:56", "f0:de:f1:12:34:56"},
		{"f0-de-f1-12-34-56", "f0:de:f1:12:34:56"},
		{"02:42:ac:11:00:02", ""}, // locally administered (Docker)
		{"52:54:00:12:34:56", ""}, // locally administered (QEMU default)
		{"0a:58:0a:80:00:01", ""}, // OVN gateway, shared across hosts
		{"01:00:5e:00:00:01", ""}, // multicast
		{"ff:ff:ff:ff:ff:ff", ""},
		{"00:00:00:00:00:00", ""},
		{"00:11:22:33:44", ""},
		{"00:1b:21:zz:00:01", ""},
	} {
		if got := normalizeMAC(c.in); got != c.want {
			t.Errorf("normalizeMAC(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestDellServiceTag(t *testing.T) {
	for _, c := range []struct{ uuid, tag string }{
		{"4c4c4544-0059-4210-8056-b2c04f584b33", "2YBVXK3"},
		{"4c4c4544-0054-5110-8035-c3c04f475a33", "CTQ5GZ3"},
		{"4c4c4544-004c-5110-8042-c7c04f533232", "GLQBS22"},
		{"4c4c4544-0036-4610-8048-c3c04f433534", "C6FHC54"},
		{"806f8c2b-5cb1-df11-9cfd-b727e82cf6bb", ""},
	} {
		if got := dellServiceTag(c.uuid); got != c.tag {
			t.Errorf("dellServiceTag(%q) = %q, want %q", c.uuid, got, c.tag)
		}
	}
}

func TestSerialRepeatsUUID(t *testing.T) {
	u := normalizeUUID("564dbc2c-0fc9-1f2a-bdd6-7e67436b3541")
	if !serialRepeatsUUID("VMware-56 4d bc 2c 0f c9 1f 2a-bd d6 7e 67 43 6b 35 41", u) {
		t.Error("VMware serial not recognised as the UUID")
	}
	a := normalizeUUID("ec2240c6-8e37-edcf-72ac-7951361680f2")
	if !serialRepeatsUUID("ec2240c6-8e37-edcf-72ac-7951361680f2", a) {
		t.Error("AWS serial not recognised as the UUID")
	}
	if serialRepeatsUUID("R96KY83", u) {
		t.Error("unrelated serial taken for the UUID")
	}
}

func TestDefaultNeed(t *testing.T) {
	for _, c := range []struct{ total, heaviest, weak, want int }{
		{12, 3, 2, 9}, // ThinkPad: UUID, serials, CPU, NIC, disk, machine-id
		{11, 3, 2, 8}, // Dell: UUID (serials merged), CPU, 2 NICs, 2 disks, machine-id
		{6, 3, 2, 3},  // AWS metal: UUID, CPU, disk, machine-id
		{4, 2, 2, 3},  // Raspberry Pi: CPU, NIC, machine-id: the NIC is needed
		{2, 1, 2, 2},  // CPU and machine-id only
		{1, 1, 0, 1},
		{3, 2, 0, 1},
	} {
		if got := defaultNeed(c.total, c.heaviest, c.weak); got != c.want {
			t.Errorf("defaultNeed(%d, %d, %d) = %d, want %d", c.total, c.heaviest, c.weak, got, c.want)
		}
	}
}

// The placeholder tables are built on first use, not at package init:
// every binary that imports hwid (verify among them) would otherwise pay
// for the regexp compilation on each start (issue 9, Measures).
func TestPlaceholdersBuiltLazily(t *testing.T) {
	if got := normalizeString("To Be Filled By O.E.M."); got != "" {
		t.Fatalf("placeholder kept: %q", got)
	}
	if got := normalizeString("not specified by vendor"); got != "" {
		t.Fatalf("pattern placeholder kept: %q", got)
	}
	if got := normalizeString("PF2ABCDE"); got != "PF2ABCDE" {
		t.Fatalf("serial dropped: %q", got)
	}
}
