package license

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/airseal/airseal/pkg/keys"
)

func TestEncodingsDecodeToIdenticalLicense(t *testing.T) {
	k := testKey(t, 1)
	l := signed(t, sampleLicense(20, true), k)
	l.Comment = "for the accounting department"
	raw := mustRaw(t, l)
	inputs := map[string][]byte{
		"file": mustArmor(t, l),
		"code": []byte(mustCode(t, l)),
		"raw":  raw,
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			got, err := Verify(in, baseOpts(k))
			if err != nil {
				t.Fatal(err)
			}
			gotRaw := mustRaw(t, got)
			if !bytes.Equal(gotRaw, raw) {
				t.Fatalf("decoded license re-encodes differently")
			}
			l2 := *l
			if name != "file" {
				l2.Comment = ""
			}
			if !reflect.DeepEqual(got, &l2) {
				t.Errorf("decoded license differs:\n got %+v\nwant %+v", got, &l2)
			}
		})
	}
}

func TestCommentIsUnsignedAndFree(t *testing.T) {
	k := testKey(t, 1)
	l := signed(t, sampleLicense(2, false), k)
	l.Comment = "first"
	a := mustArmor(t, l)
	b := bytes.Replace(a, []byte("first"), []byte("edited by anyone\n"+CommentPrefix+"a second line"), 1)
	got, err := Verify(b, baseOpts(k))
	if err != nil {
		t.Fatal(err)
	}
	if got.Comment != "edited by anyone\na second line" {
		t.Errorf("comment = %q", got.Comment)
	}
	if !strings.HasPrefix(string(a), "unsigned comment: first\n-----BEGIN AIRSEAL LICENSE-----\n") {
		t.Errorf("armor does not start with the marked comment:\n%s", a)
	}
	// Anything else before the armor is refused: it could pass for signed text.
	bad := append([]byte("Seats: 1000\n"), a...)
	if _, err := Verify(bad, baseOpts(k)); !errors.Is(err, ErrMalformed) {
		t.Errorf("unmarked text before the armor: err = %v, want ErrMalformed", err)
	}
}

func TestVerifyOutcomes(t *testing.T) {
	k, other := testKey(t, 1), testKey(t, 2)
	rev := func(serials ...string) []byte {
		rl := (*RevocationList)(nil).Next(serials, tIssued.Add(24*time.Hour))
		if err := rl.Sign(k); err != nil {
			t.Fatal(err)
		}
		b, _ := rl.Armor()
		return b
	}
	revOther := func() []byte {
		rl := (*RevocationList)(nil).Next(nil, tIssued)
		rl.Sign(other)
		b, _ := rl.Armor()
		return b
	}
	tests := []struct {
		name    string
		lic     func() *License
		signer  *keys.PrivateKey
		opts    func(*VerifyOptions)
		want    error
		code    int
		gotLic  bool
		warning string
	}{
		{name: "valid bound", code: 0},
		{name: "valid unbound without machine", lic: func() *License { return sampleLicense(3, false) }, opts: func(o *VerifyOptions) { o.Machine = nil }},
		{name: "bound without machine warns", opts: func(o *VerifyOptions) { o.Machine = nil }, warning: "not checked"},
		{name: "unknown key", signer: other, want: ErrUnknownKey, code: 11},
		{name: "wrong product", opts: func(o *VerifyOptions) { o.Product = "Other" }, want: ErrWrongProduct, code: 18},
		{name: "revoked", opts: func(o *VerifyOptions) { o.Revocations = rev("7K3M-Q9TX-4HZP-2W8R") }, want: ErrRevoked, code: 14},
		{name: "revoked by a bundle", opts: func(o *VerifyOptions) { o.RevokedSerials = []string{"X", "7K3M-Q9TX-4HZP-2W8R"} }, want: ErrRevoked, code: 14},
		{name: "revocation list older than seen", opts: func(o *VerifyOptions) {
			o.Revocations = rev("AAAA-BBBB-CCCC-DDDD")
			o.RevocationSeen = map[keys.ID]uint64{k.ID(): 2}
		}, want: ErrRevoked, code: 14},
		{name: "revocation list as new as seen", opts: func(o *VerifyOptions) {
			o.Revocations = rev("AAAA-BBBB-CCCC-DDDD")
			o.RevocationSeen = map[keys.ID]uint64{k.ID(): 1, "0000000000000000": 9}
		}},
		{name: "not revoked", opts: func(o *VerifyOptions) { o.Revocations = rev("AAAA-BBBB-CCCC-DDDD") }},
		{name: "revocation list by unknown key", opts: func(o *VerifyOptions) { o.Revocations = revOther() }, want: ErrUnknownKey, code: 11},
		{name: "revocation list garbage", opts: func(o *VerifyOptions) { o.Revocations = []byte("junk") }, want: ErrMalformed, code: 10},
		{name: "clock before issued", opts: func(o *VerifyOptions) { o.Now = tIssued.Add(-2 * time.Hour) }, want: ErrClockRollback, code: 15},
		{name: "clock within skew", opts: func(o *VerifyOptions) { o.Now = tIssued.Add(-30 * time.Minute) }},
		{name: "clock before floor", opts: func(o *VerifyOptions) { o.ClockFloor = tNow.Add(3 * time.Hour) }, want: ErrClockRollback, code: 15},
		{name: "clock before revocation list", opts: func(o *VerifyOptions) {
			o.Revocations = rev()
			o.Now = tIssued.Add(2 * time.Hour)
		}, want: ErrClockRollback, code: 15},
		{name: "not yet valid", lic: func() *License {
			l := sampleLicense(1, true)
			l.NotBefore = tNow.Add(48 * time.Hour)
			return l
		}, want: ErrNotYetValid, code: 13},
		{name: "expired", lic: func() *License {
			l := sampleLicense(1, true)
			l.Expires = tp(tNow.Add(-time.Second))
			return l
		}, want: ErrExpired, code: 13},
		{name: "expires soon warns", lic: func() *License {
			l := sampleLicense(1, true)
			l.Expires = tp(tNow.Add(5 * 24 * time.Hour))
			return l
		}, warning: "expires on 2026-03-06 (5 days left)"},
		{name: "virtual machine", opts: func(o *VerifyOptions) { o.Machine.Virtualization, o.Machine.Technology = "vm", "kvm" }, want: ErrVirtualMachine, code: 16},
		{name: "container", opts: func(o *VerifyOptions) { o.Machine.Virtualization = "container" }, want: ErrVirtualMachine, code: 16},
		{name: "virtual allowed", lic: func() *License {
			l := sampleLicense(1, true)
			l.AllowVirtual = true
			return l
		}, opts: func(o *VerifyOptions) { o.Machine.Virtualization = "vm" }},
		{name: "one component changed still matches", opts: func(o *VerifyOptions) { o.Machine = liveMachine("mac") }},
		{name: "wrong machine", opts: func(o *VerifyOptions) { o.Machine = liveMachine("system_uuid", "mac") }, want: ErrWrongMachine, code: 12},
		{name: "updates expired", opts: func(o *VerifyOptions) { o.ReleaseDate = tUpdates.Add(24 * time.Hour) }, want: ErrUpdatesExpired, code: 17, gotLic: true},
		{name: "release within subscription", opts: func(o *VerifyOptions) { o.ReleaseDate = tUpdates }},
		{name: "subscription ends soon warns", opts: func(o *VerifyOptions) { o.Now = tUpdates.Add(-3 * 24 * time.Hour) }, warning: "ends on 2027-01-15 (3 days left)"},
		{name: "subscription ended warns", opts: func(o *VerifyOptions) { o.Now = tUpdates.Add(3 * 24 * time.Hour) }, warning: "ended on 2027-01-15"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := sampleLicense(4, true)
			if tt.lic != nil {
				l = tt.lic()
			}
			signer := k
			if tt.signer != nil {
				signer = tt.signer
			}
			in := mustArmor(t, signed(t, l, signer))
			o := baseOpts(k)
			if tt.opts != nil {
				tt.opts(&o)
			}
			rep, err := evaluate(in, o)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if c := exitCode(err); c != tt.code {
				t.Errorf("exit code %d, want %d", c, tt.code)
			}
			got, verr := Verify(in, o)
			if !errors.Is(verr, tt.want) && (tt.want != nil || verr != nil) {
				t.Errorf("Verify err = %v, Check err = %v", verr, err)
			}
			if (got != nil) != (tt.want == nil || tt.gotLic) {
				t.Errorf("Verify returned license %v with err %v", got != nil, verr)
			}
			if tt.warning != "" && !strings.Contains(strings.Join(rep.Warnings, "\n"), tt.warning) {
				t.Errorf("warnings %q lack %q", rep.Warnings, tt.warning)
			}
			if tt.warning == "" && len(rep.Warnings) > 0 && err == nil {
				t.Errorf("unexpected warnings %q", rep.Warnings)
			}
		})
	}
}

func TestWrongMachineExplains(t *testing.T) {
	k := testKey(t, 1)
	in := mustArmor(t, signed(t, sampleLicense(1, true), k))
	o := baseOpts(k)
	o.Machine = liveMachine("disk_serial", "mac", "cpu")
	_, err := Verify(in, o)
	want := "3 of 6 components match (disk_serial, mac and cpu changed); weight 5, 6 needed"
	if !errors.Is(err, ErrWrongMachine) || !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v, want it to contain %q", err, want)
	}
}

func TestValidateRejects(t *testing.T) {
	k := testKey(t, 1)
	tests := []struct {
		name  string
		edit  func(*License)
		field string
	}{
		{"empty serial", func(l *License) { l.Serial = "" }, "serial"},
		{"empty product", func(l *License) { l.Product = "" }, "product"},
		{"bad kind", func(l *License) { l.Kind = 9 }, "kind"},
		{"additional without main", func(l *License) { l.Kind = KindAdditional }, "main_serial"},
		{"main with main serial", func(l *License) { l.MainSerial = "X" }, "main_serial"},
		{"no customer", func(l *License) { l.Customer.Name = "" }, "customer.name"},
		{"control char", func(l *License) { l.Customer.Name = "a\nb" }, "customer.name"},
		{"bad utf8", func(l *License) { l.Edition = "\xff" }, "edition"},
		{"zero seats", func(l *License) { l.Seats = 0 }, "seats"},
		{"unsorted features", func(l *License) { l.Features[0], l.Features[1] = l.Features[1], l.Features[0] }, "features"},
		{"duplicate features", func(l *License) { l.Features[1].Name = l.Features[0].Name }, "features"},
		{"bad feature name", func(l *License) { l.Features[0].Name = "Bad Name" }, "features"},
		{"flag value 2", func(l *License) { l.Features[0].Value = 2 }, "features"},
		{"expires before start", func(l *License) { l.Expires = tp(tIssued.Add(-time.Hour)) }, "expires"},
		{"fractional time", func(l *License) { l.IssuedAt = tIssued.Add(time.Millisecond) }, "issued_at"},
		{"need too large", func(l *License) { l.Machine.Need = 100 }, "machine"},
		{"allow virtual unbound", func(l *License) { l.Machine = nil; l.AllowVirtual = true }, "allow_virtual"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := sampleLicense(3, true)
			tt.edit(l)
			err := l.Sign(k)
			if err == nil || !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tt.field) {
				t.Errorf("Sign error = %v, want ErrMalformed naming %q", err, tt.field)
			}
		})
	}
}

func TestDecodeWithoutKey(t *testing.T) {
	k := testKey(t, 1)
	l := signed(t, sampleLicense(2, false), k)
	got, err := Decode([]byte(mustCode(t, l)))
	if err != nil {
		t.Fatal(err)
	}
	if got.Serial != l.Serial || got.KeyID != k.ID() {
		t.Errorf("Decode = %+v", got)
	}
	// Decode does not check signatures, Verify does.
	raw := mustRaw(t, l)
	raw[len(raw)-1] ^= 1
	if _, err := Decode(raw); err != nil {
		t.Errorf("Decode of a license with a bad signature: %v", err)
	}
	if _, err := Verify(raw, baseOpts(k)); !errors.Is(err, ErrBadSignature) {
		t.Errorf("Verify err = %v, want ErrBadSignature", err)
	}
}

func TestEntitle(t *testing.T) {
	defaults := []Feature{{Name: "lines_per_document", Value: 10}}
	l := sampleLicense(2, false)
	if e := Entitle(l, nil, defaults); e.Demo || e.Seats != 5 || !e.Enabled("feature_00") {
		t.Errorf("valid license: %+v", e)
	}
	if e := Entitle(nil, ErrExpired, defaults); !e.Demo || e.Seats != 1 {
		t.Errorf("no license: %+v", e)
	} else if v, _ := e.Limit("lines_per_document"); v != 10 {
		t.Errorf("no license: lines_per_document = %d, want product default 10", v)
	}
	e := Entitle(l, ErrUpdatesExpired, defaults)
	if v, _ := e.Limit("lines_per_document"); !e.Demo || v != 3 {
		t.Errorf("updates expired: %+v, want the license's demo limit 3", e)
	}
	if e.Enabled("feature_00") {
		t.Errorf("demo mode must not enable licensed features")
	}
}

func TestNewSerial(t *testing.T) {
	s, err := NewSerial(bytes.NewReader(make([]byte, 10)))
	if err != nil || s != "0000-0000-0000-0000" {
		t.Errorf("NewSerial(zeros) = %q, %v", s, err)
	}
	s, _ = NewSerial(bytes.NewReader(bytes.Repeat([]byte{0xff}, 10)))
	if s != "ZZZZ-ZZZZ-ZZZZ-ZZZZ" {
		t.Errorf("NewSerial(ones) = %q", s)
	}
	a, _ := NewSerial(nil)
	b, _ := NewSerial(nil)
	if a == b || len(a) != 19 {
		t.Errorf("random serials %q %q", a, b)
	}
}

func TestKind(t *testing.T) {
	for _, k := range []Kind{KindMain, KindAdditional, KindDemo} {
		got, err := ParseKind(k.String())
		if err != nil || got != k {
			t.Errorf("ParseKind(%q) = %v, %v", k.String(), got, err)
		}
	}
	if _, err := ParseKind("trial"); err == nil {
		t.Error("ParseKind(trial) succeeded")
	}
}

func TestRevocationSequenceGrows(t *testing.T) {
	k := testKey(t, 1)
	a := (*RevocationList)(nil).Next([]string{"B", "A"}, tIssued)
	if err := a.Sign(k); err != nil {
		t.Fatal(err)
	}
	b := a.Next([]string{"C", "A"}, tIssued.Add(time.Hour))
	if err := b.Sign(k); err != nil {
		t.Fatal(err)
	}
	if b.Sequence != 2 || !reflect.DeepEqual(b.Serials, []string{"A", "B", "C"}) {
		t.Errorf("next list = %d %v", b.Sequence, b.Serials)
	}
	data, _ := b.Armor()
	got, err := OpenRevocations(data, keys.NewKeyring(k.Public()))
	if err != nil || got.Sequence != 2 || !got.Contains("C") || got.Contains("D") {
		t.Errorf("OpenRevocations = %+v, %v", got, err)
	}
	for i := range data {
		if data[i] == '\n' || i < len("-----BEGIN AIRSEAL REVOCATION LIST-----") {
			continue
		}
		d := bytes.Clone(data)
		d[i] ^= 1
		if _, err := OpenRevocations(d, keys.NewKeyring(k.Public())); err == nil {
			t.Fatalf("flipping byte %d of the revocation list was accepted", i)
		}
	}
}
