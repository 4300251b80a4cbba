package issuer

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/airseal/airseal/pkg/fingerprint"
	"github.com/airseal/airseal/pkg/hwid"
	"github.com/airseal/airseal/pkg/keys"
	"github.com/airseal/airseal/pkg/license"
)

var testNow = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

func testIssuer(t testing.TB) *Issuer {
	t.Helper()
	k, err := keys.NewPrivateKey(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return &Issuer{Key: k, Ledger: &Ledger{Path: filepath.Join(t.TempDir(), "vendor.ledger")}}
}

func testRequest(t testing.TB, edit func(*hwid.Request)) *hwid.Request {
	t.Helper()
	data, err := os.ReadFile("testdata/request.json")
	if err != nil {
		t.Fatal(err)
	}
	r, err := hwid.ParseRequest(data)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(r)
	}
	return r
}

func fieldOf(err error) string {
	var fe *FieldError
	if errors.As(err, &fe) {
		return fe.Field
	}
	return ""
}

// The request's weights and need are never copied: the policy's are bound,
// and a looser claimed rule is reported (issue 8 item 1).
func TestPrepareBindsPolicyNotRequestRule(t *testing.T) {
	req := testRequest(t, func(r *hwid.Request) {
		for i := range r.Fingerprint.Components {
			r.Fingerprint.Components[i].Weight = 50
		}
		r.Fingerprint.Need = 1
	})
	d, err := Prepare(Order{Request: req, Serial: "7K3M-Q9TX-4HZP-2W8R"}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	m := d.License.Machine
	if m.Need != 8 || m.Total() != 11 {
		t.Fatalf("bound need %d of %d, want the policy's 8 of 11", m.Need, m.Total())
	}
	want := []int{3, 1, 2, 2, 1, 1, 1}
	for i, c := range m.Components {
		if c.Weight != want[i] || d.Binding.Components[i].Weight != want[i] || d.Binding.Components[i].Name != c.Name {
			t.Fatalf("component %d (%s): weight %d, want %d", i, c.Name, c.Weight, want[i])
		}
	}
	if !d.Binding.RequestLooser || d.Binding.RequestNeed != 1 || !strings.Contains(strings.Join(d.Warnings, "\n"), "looser match rule") {
		t.Fatalf("looser request not reported: %+v %q", d.Binding, d.Warnings)
	}
	// The policy's own rule is not reported as looser.
	d, err = Prepare(Order{Request: testRequest(t, nil)}, testNow)
	if err != nil || d.Binding.RequestLooser || len(d.Warnings) != 0 {
		t.Fatalf("unedited request: %v %+v %q", err, d.Binding, d.Warnings)
	}
}

func onlyComponents(names ...string) func(*hwid.Request) {
	return func(r *hwid.Request) {
		var cs []fingerprint.Component
		for _, c := range r.Fingerprint.Components {
			for _, n := range names {
				if c.Name == n {
					cs = append(cs, c)
					break
				}
			}
		}
		r.Fingerprint.Components, r.Fingerprint.Need = cs, 1
	}
}

// A rule that leaves no tolerance is said so, with what to do (issue 13
// item 6); weak components alone are refused; --need is checked.
func TestPrepareTolerance(t *testing.T) {
	d, err := Prepare(Order{Request: testRequest(t, func(r *hwid.Request) {
		onlyComponents("cpu", "disk_serial", "machine_id")(r)
		c := r.Fingerprint.Components // cpu, disk, disk, machine_id
		r.Fingerprint.Components = append(c[:2:2], c[3])
	})}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if d.Binding.Tolerance != 0 || !strings.Contains(strings.Join(d.Warnings, "\n"), "no tolerance") || !strings.Contains(strings.Join(d.Warnings, "\n"), "as root") {
		t.Fatalf("no tolerance not reported: %+v %q", d.Binding, d.Warnings)
	}
	if _, err := Prepare(Order{Request: testRequest(t, onlyComponents("cpu", "machine_id"))}, testNow); fieldOf(err) != "request.fingerprint" || !errors.Is(err, err) {
		t.Fatalf("weak-only request: %v", err)
	}
	req := testRequest(t, nil)
	if _, err := Prepare(Order{Request: req, Need: 2}, testNow); fieldOf(err) != "machine.need" {
		t.Fatalf("need reachable by cpu and machine_id: %v", err)
	}
	if _, err := Prepare(Order{Request: req, Need: 12}, testNow); fieldOf(err) != "machine.need" {
		t.Fatalf("need over the total: %v", err)
	}
	d, err = Prepare(Order{Request: req, Need: 5}, testNow)
	if err != nil || d.License.Machine.Need != 5 || d.Binding.PolicyNeed != 8 || !strings.Contains(strings.Join(d.Warnings, "\n"), "looser than the policy") {
		t.Fatalf("granted need 5: %v %+v %q", err, d.Binding, d.Warnings)
	}
	if _, err := Prepare(Order{Product: "P", Customer: "C", Need: 5}, testNow); fieldOf(err) != "machine.need" {
		t.Fatalf("need on an unbound license: %v", err)
	}
}

// Validation errors are typed and name the field.
func TestPrepareFieldErrors(t *testing.T) {
	exp := testNow.Add(-time.Hour)
	for _, c := range []struct {
		o     Order
		field string
	}{
		{Order{Customer: "C"}, "product"},
		{Order{Product: "P"}, "customer.name"},
		{Order{Product: "P", Customer: "C", Serial: "a\x1bb"}, "serial"},
		{Order{Product: "P", Customer: "C\u202e"}, "customer.name"},
		{Order{Product: "P", Customer: "C", Kind: license.KindDemo}, "expires"},
		{Order{Product: "P", Customer: "C", Expires: &exp}, "expires"},
		{Order{Product: "P", Customer: "C", Kind: license.KindAdditional}, "main_serial"},
		{Order{Product: "P", Customer: "C", AllowVirtual: true}, "allow_virtual"},
		{Order{Product: "P", Customer: "C", Features: []license.Feature{{Name: "a"}, {Name: "a"}}}, "features"},
		{Order{Request: testRequest(t, nil), Product: "other"}, "request.product"},
		{Order{Request: testRequest(t, func(r *hwid.Request) { r.Virtualization.Type = hwid.TypeVM }), Customer: "C"}, "request.virtualization"},
	} {
		if _, err := Prepare(c.o, testNow); fieldOf(err) != c.field {
			t.Errorf("%+v: got %v (field %q), want field %q", c.o, err, fieldOf(err), c.field)
		}
	}
}

// A comment verify would refuse, or read back differently, is refused at
// creation, naming the limit (issue 13 item 5).
func TestComment(t *testing.T) {
	for _, c := range []string{
		"-----BEGIN AIRSEAL LICENSE-----",
		"x -----END AIRSEAL LICENSE----- y",
		"tab\there", "cr\r", "esc\x1b[2J", "bad utf8 \xff",
		strings.Repeat("x", MaxComment+1),
	} {
		s := c
		_, err := Prepare(Order{Product: "P", Customer: "C", Comment: &s}, testNow)
		if fieldOf(err) != "comment" {
			t.Errorf("comment %q: %v", c, err)
		}
	}
	is := testIssuer(t)
	for _, c := range []string{"", "two\nlines", "Ромашка, serial 1", strings.Repeat("y", MaxComment), "trailing\n"} {
		s := c
		d, err := Prepare(Order{Product: "P", Customer: "C", Comment: &s}, testNow)
		if err != nil {
			t.Fatalf("comment %q: %v", c, err)
		}
		out, err := is.Issue(d, IssueOptions{})
		if err != nil {
			t.Fatalf("comment %q: %v", c, err)
		}
		l, err := license.Verify(out.Armored, license.VerifyOptions{Keyring: keys.NewKeyring(is.Key.Public()), Now: testNow})
		if err != nil || l.Comment != c {
			t.Fatalf("comment %q reads back as %q: %v", c, l.Comment, err)
		}
	}
}

// Issue records the license; show finds it however the serial is typed.
func TestIssueRecordsAndFinds(t *testing.T) {
	is := testIssuer(t)
	d, err := Prepare(Order{Request: testRequest(t, nil), Serial: "7k3m q9tx4hzp2w8r"}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if d.License.Serial != "7K3M-Q9TX-4HZP-2W8R" {
		t.Fatalf("serial not normalised: %q", d.License.Serial)
	}
	out, err := is.Issue(d, IssueOptions{QRPNG: true, QRTerminal: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.QRPNG) == 0 || out.QRText == "" || !strings.HasPrefix(out.Code, "ASL1-") {
		t.Fatal("outputs missing")
	}
	r, _, err := is.Ledger.Find("7k3mq9tx4hzp2w8r")
	if err != nil || r == nil || r.License != string(out.Armored) || r.Machine != d.Binding.MachineID {
		t.Fatalf("find: %v %+v", err, r)
	}
}

// Revocation: serials normalised, never-issued ones reported, the list
// carried forward from the ledger, and each record holds only what it adds
// (issue 8 items 11, 16).
func TestRevokeCarriesForward(t *testing.T) {
	is := testIssuer(t)
	d, _ := Prepare(Order{Product: "P", Customer: "C", Serial: "AAAA-0000-0000-0001"}, testNow)
	if _, err := is.Issue(d, IssueOptions{}); err != nil {
		t.Fatal(err)
	}
	r1, err := is.Revoke(RevokeOptions{Serials: []string{"aaaa00000000000l", "ZZZZ-0000-0000-0000"}, Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(r1.List.Serials, ",") != "AAAA-0000-0000-0001,ZZZZ-0000-0000-0000" || strings.Join(r1.NotIssued, ",") != "ZZZZ-0000-0000-0000" {
		t.Fatalf("list %v, not issued %v", r1.List.Serials, r1.NotIssued)
	}
	r2, err := is.Revoke(RevokeOptions{Serials: []string{"BBBB-0000-0000-0002"}, Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	if r2.List.Sequence != 2 || len(r2.List.Serials) != 3 || strings.Join(r2.Added, ",") != "BBBB-0000-0000-0002" {
		t.Fatalf("second list: %d %v added %v", r2.List.Sequence, r2.List.Serials, r2.Added)
	}
	data, _ := os.ReadFile(is.Ledger.Path)
	if n := strings.Count(string(data), "AAAA-0000-0000-0001"); n != 3 { // license serial, license file comment, first list
		t.Fatalf("serial recorded %d times in the ledger, want 3: a revocation record copies the whole list\n%s", n, data)
	}
	// An old --list is refused; the output guard refuses to drop serials.
	if _, err := is.Revoke(RevokeOptions{Serials: []string{"X"}, Previous: r1.Armored, Now: testNow}); fieldOf(err) != "list" {
		t.Fatalf("old list: %v", err)
	}
	fresh := &Issuer{Key: is.Key, Ledger: &Ledger{Path: is.Ledger.Path + ".fresh"}}
	if _, err := fresh.Revoke(RevokeOptions{Serials: []string{"X"}, Replaces: r2.Armored, Now: testNow}); fieldOf(err) != "output" {
		t.Fatalf("replacing a newer list: %v", err)
	}
	if _, err := fresh.Revoke(RevokeOptions{Serials: []string{"X"}, Replaces: []byte("hello"), Now: testNow}); fieldOf(err) != "output" {
		t.Fatalf("replacing a non-list: %v", err)
	}
	// Continuing from a list in a fresh ledger carries it forward.
	r3, err := fresh.Revoke(RevokeOptions{Serials: []string{"X"}, Previous: r2.Armored, Replaces: r2.Armored, Now: testNow})
	if err != nil || r3.List.Sequence != 3 || len(r3.List.Serials) != 4 {
		t.Fatalf("continue from a list: %v", err)
	}
	// A tampered list is refused with the license sentinel.
	bad := bytes.Replace(r2.Armored, []byte("\n-----END"), []byte("x\n-----END"), 1)
	if _, err := is.Revoke(RevokeOptions{Serials: []string{"X"}, Previous: bad, Now: testNow}); !errors.Is(err, license.ErrMalformed) || fieldOf(err) != "list" {
		t.Fatalf("tampered list: %v", err)
	}
}

// One list takes 100,000 serials (issue 8 item 12), and the next record
// holds only the one serial it adds.
func TestRevoke100000(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000 serials")
	}
	is := testIssuer(t)
	serials := make([]string, 100_000)
	for i := range serials {
		serials[i] = fmt.Sprintf("S-%06d", i)
	}
	start := time.Now()
	r, err := is.Revoke(RevokeOptions{Serials: serials, Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("100,000 serials: %d bytes, %v", len(r.Armored), time.Since(start))
	before, _ := os.Stat(is.Ledger.Path)
	r2, err := is.Revoke(RevokeOptions{Serials: []string{"S-100000"}, Now: testNow})
	if err != nil || len(r2.List.Serials) != 100_001 || !r2.List.Contains("S-099999") {
		t.Fatalf("second list: %v", err)
	}
	after, _ := os.Stat(is.Ledger.Path)
	if grew := after.Size() - before.Size(); grew > 1000 {
		t.Fatalf("the ledger grew by %d bytes for one serial: the record copies the list", grew)
	}
}

// A request code is accepted however it was typed (issue 8 item 15).
func TestParseRequestCode(t *testing.T) {
	req := testRequest(t, nil)
	code, err := req.Code()
	if err != nil {
		t.Fatal(err)
	}
	bare := strings.ReplaceAll(code, "-", "")
	for _, c := range []string{
		code,
		strings.ToLower(code),
		bare,
		strings.ToLower(bare),
		"  " + bare[:7] + "-" + bare[7:20] + "\n" + bare[20:] + "\n",
		strings.ReplaceAll(code, "-", " "),
		bare[:4] + "-" + bare[4:9] + "--" + bare[9:],
	} {
		got, err := ParseRequest([]byte(c))
		if err != nil {
			t.Fatalf("%q: %v", c, err)
		}
		if got.Nonce != req.Nonce {
			t.Fatalf("%q: wrong request", c)
		}
	}
	if _, err := ParseRequest([]byte("request.json")); err == nil {
		t.Fatal("a file name taken for a code")
	}
}

// Outputs a reader would refuse are refused before anything is recorded:
// a QR code the data does not fit, a license over verify's 64 KiB limit
// (issue 13 item 5).
func TestIssueRefusesOutputsReadersRefuse(t *testing.T) {
	is := testIssuer(t)
	var feats, demo []license.Feature
	for i := 0; i < 256; i++ {
		name := fmt.Sprintf("%s%03d", strings.Repeat("f", 61), i)
		feats = append(feats, license.Feature{Name: name, Value: 1 << 40})
		demo = append(demo, license.Feature{Name: name, Value: 1 << 40})
	}
	d, err := Prepare(Order{Product: "P", Customer: "C", Features: feats[:40]}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := is.Issue(d, IssueOptions{QRPNG: true}); fieldOf(err) != "qr" {
		t.Fatalf("QR too long: %v", err)
	}
	d, err = Prepare(Order{Product: "P", Customer: "C", Features: feats, DemoLimits: demo}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := is.Issue(d, IssueOptions{}); fieldOf(err) != "license" || !strings.Contains(err.Error(), "65536-byte limit") {
		t.Fatalf("license over the limit: %v", err)
	}
	if _, err := os.Stat(is.Ledger.Path); err == nil {
		t.Fatal("a refused license was recorded")
	}
}

// TestRevokeNumberingAcrossKeys (issue 8 item 4): after a key rotation the
// new key's ledger continues the old key's numbering when the newest list
// is carried forward, so verifiers (one floor across keys) accept it; a
// first list without one is numbered 1 and the vendor is warned.
func TestRevokeNumberingAcrossKeys(t *testing.T) {
	oldIs := testIssuer(t)
	var last *Revocation
	for i := range 3 {
		r, err := oldIs.Revoke(RevokeOptions{Serials: []string{fmt.Sprintf("OLD-%d", i)}, Now: testNow})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 && len(r.Warnings) != 1 {
			t.Errorf("first list of a ledger: warnings %q, want the numbering warning", r.Warnings)
		}
		if i > 0 && len(r.Warnings) != 0 {
			t.Errorf("list %d: unexpected warnings %q", r.List.Sequence, r.Warnings)
		}
		last = r
	}
	k2, _ := keys.NewPrivateKey(bytes.Repeat([]byte{2}, 32))
	newIs := &Issuer{Key: k2, Ledger: &Ledger{Path: filepath.Join(t.TempDir(), "vendor2.ledger")}}
	r, err := newIs.Revoke(RevokeOptions{Serials: []string{"NEW-1"}, Previous: last.Armored, Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	if r.List.Sequence != 4 || r.List.KeyID != k2.ID() || !r.List.Contains("OLD-0") || !r.List.Contains("NEW-1") {
		t.Fatalf("new key's list: #%d by %s, %v", r.List.Sequence, r.List.KeyID, r.List.Serials)
	}
	// Its ledger now continues on its own.
	r2, err := newIs.Revoke(RevokeOptions{Serials: []string{"NEW-2"}, Now: testNow})
	if err != nil || r2.List.Sequence != 5 || len(r2.List.Serials) != 5 {
		t.Fatalf("next list of the new key: %v", err)
	}
	// Without the previous list, the new key's first list is #1: warned.
	fresh := &Issuer{Key: k2, Ledger: &Ledger{Path: filepath.Join(t.TempDir(), "vendor3.ledger")}}
	r3, err := fresh.Revoke(RevokeOptions{Serials: []string{"NEW-3"}, Now: testNow})
	if err != nil || r3.List.Sequence != 1 || len(r3.Warnings) != 1 || !strings.Contains(r3.Warnings[0], "numbering continues") {
		t.Fatalf("first list of a new ledger: %v %q", err, r3.Warnings)
	}
}
