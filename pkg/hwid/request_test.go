package hwid

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/airseal/airseal/internal/typedcode"
	"github.com/airseal/airseal/pkg/fingerprint"
)

var update = flag.Bool("update", false, "rewrite the golden request vectors")

// goldenRequest builds the request of testdata/request-v1.* from the Dell
// fixture with a fixed nonce and time.
func goldenRequest(t *testing.T) *Request {
	t.Helper()
	var dell envCase
	for _, e := range loadEnvs(t) {
		if e.name == "bm-dell-poweredge-r440" {
			dell = e
		}
	}
	rep := collectEnv(t, dell, "acme-db")
	nonce := bytes.NewReader([]byte("0123456789abcdef"))
	req, err := NewRequest(rep, "acme-db", "Example Corp", time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC), nonce)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func TestRequestGolden(t *testing.T) {
	req := goldenRequest(t)
	js, err := req.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	code, err := req.Code()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		os.WriteFile("testdata/request-v1.json", js, 0o644)
		os.WriteFile("testdata/request-v1.code", []byte(code+"\n"), 0o644)
	}
	wantJS, err := os.ReadFile("testdata/request-v1.json")
	if err != nil {
		t.Fatal(err)
	}
	wantCode, err := os.ReadFile("testdata/request-v1.code")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(js, wantJS) {
		t.Errorf("request JSON differs from testdata/request-v1.json:\n%s", js)
	}
	if code != strings.TrimSpace(string(wantCode)) {
		t.Errorf("request code differs from testdata/request-v1.code:\n%s", code)
	}
	// Both golden files parse back to the request (the code without evidence).
	fromJS, err := ParseRequest(wantJS)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fromJS, req) {
		t.Errorf("JSON round trip:\n got %+v\nwant %+v", fromJS, req)
	}
	fromCode, err := ParseRequest(wantCode)
	if err != nil {
		t.Fatal(err)
	}
	noEv := *req
	noEv.Virtualization.Evidence = []string{}
	if !reflect.DeepEqual(fromCode, &noEv) {
		t.Errorf("code round trip:\n got %+v\nwant %+v", fromCode, &noEv)
	}
}

func TestRequestCodeTypo(t *testing.T) {
	code, err := goldenRequest(t).Code()
	if err != nil {
		t.Fatal(err)
	}
	// Change one data character of the third group.
	groups := strings.Split(code, "-")
	g := []byte(groups[3])
	if g[0] == 'A' {
		g[0] = 'B'
	} else {
		g[0] = 'A'
	}
	groups[3] = string(g)
	_, err = ParseRequest([]byte(strings.Join(groups, "-")))
	var typo *typedcode.TypoError
	if !errors.As(err, &typo) || typo.Group != 3 {
		t.Fatalf("typo in group 3: got %v", err)
	}
	// Lower case, spaces and line breaks are forgiven.
	loose := strings.ToLower(strings.ReplaceAll(code, "-", " "))
	loose = loose[:40] + "\n" + loose[40:]
	if _, err := ParseRequest([]byte("ASR1-" + loose[5:])); err != nil {
		t.Fatalf("loosely typed code: %v", err)
	}
}

func TestParseRequestRejects(t *testing.T) {
	good, err := goldenRequest(t).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, in, want string }{
		{"empty", "", "not a license request"},
		{"license", "ASL1-ABCDE", "not a license request"},
		{"unknown field", strings.Replace(string(good), `"version": 1,`, `"version": 1, "extra": 1,`, 1), "unknown field"},
		{"version", strings.Replace(string(good), `"version": 1,`, `"version": 2,`, 1), "version 2"},
		{"product", strings.Replace(string(good), `"product": "acme-db"`, `"product": ""`, 1), "product is empty"},
		{"nonce", strings.Replace(string(good), `"nonce": "30313233`, `"nonce": "3031`, 1), "nonce"},
		{"type", strings.Replace(string(good), `"type": "none"`, `"type": "maybe"`, 1), "virtualization type"},
		{"need", strings.Replace(string(good), `"need": 8`, `"need": 99`, 1), "need"},
		{"trailing", string(good) + "{}", "after the JSON"},
		{"truncated code", "ASR1-040Q9", "code"},
	} {
		_, err := ParseRequest([]byte(c.in))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", c.name, err, c.want)
		}
	}
}

func FuzzParseRequest(f *testing.F) {
	js, _ := os.ReadFile("testdata/request-v1.json")
	code, _ := os.ReadFile("testdata/request-v1.code")
	f.Add(js)
	f.Add(code)
	f.Add([]byte("ASR1-00000"))
	f.Add([]byte("{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseRequest(data)
		if err != nil {
			return
		}
		// Whatever parses re-encodes, and parses back the same.
		js, err := r.Marshal()
		if err != nil {
			t.Fatalf("parsed request does not marshal: %v", err)
		}
		r2, err := ParseRequest(js)
		if err != nil || !reflect.DeepEqual(r, r2) {
			t.Fatalf("JSON round trip: %v\n%+v\n%+v", err, r, r2)
		}
		code, err := r.Code()
		if err != nil {
			t.Fatalf("parsed request has no code: %v", err)
		}
		r3, err := ParseRequest([]byte(code))
		if err != nil {
			t.Fatalf("code round trip: %v", err)
		}
		r.Virtualization.Evidence = []string{}
		if !reflect.DeepEqual(r, r3) {
			t.Fatalf("code round trip:\n%+v\n%+v", r, r3)
		}
	})
}

func TestNewRequestChecks(t *testing.T) {
	var dell envCase
	for _, e := range loadEnvs(t) {
		if e.name == "bm-dell-poweredge-r440" {
			dell = e
		}
	}
	rep := collectEnv(t, dell, "acme-db")
	if _, err := NewRequest(rep, "globex", "", time.Now(), nil); err == nil || !strings.Contains(err.Error(), `collected for "acme-db"`) {
		t.Errorf("request for another product than the report's: %v", err)
	}
	a, err := NewRequest(rep, "acme-db", "", time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewRequest(rep, "acme-db", "", time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.Nonce == b.Nonce {
		t.Error("two requests share a nonce")
	}
	empty, err := Collect(Options{Root: t.TempDir(), Product: "acme-db"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewRequest(empty, "acme-db", "", time.Now(), nil); err == nil {
		t.Error("a request without components was made")
	}
	// The report matches its own fingerprint, and says why not otherwise.
	if r := rep.Match(rep.Fingerprint); !r.OK || r.Score != rep.Fingerprint.Total() {
		t.Errorf("self match: %s", r)
	}
	if r := empty.Match(rep.Fingerprint); r.OK {
		t.Errorf("empty machine matches: %s", r)
	}
}

// componentValue is one line of testdata/request-v1.components.json: a
// component of the golden request's machine with its value in clear, so
// the vectors can be re-checked without Go (docs/spec/request-v1.md §3).
type componentValue struct {
	Name      string `json:"name"`
	Weight    int    `json:"weight"`
	NeedsRoot bool   `json:"needs_root,omitempty"`
	Value     string `json:"value"`
	Hash      string `json:"hash"`
}

type componentValues struct {
	Comment    string           `json:"comment"`
	Product    string           `json:"product"`
	Components []componentValue `json:"components"`
	Need       int              `json:"need"`
	ID         string           `json:"id"`
	IDInput    string           `json:"id_input"`
}

// Issue 8 item 18: the golden request's machine, value by value, beside
// the vectors; every hash, the need and the ID follow from it by the spec.
func TestRequestComponentValues(t *testing.T) {
	var dell envCase
	for _, e := range loadEnvs(t) {
		if e.name == "bm-dell-poweredge-r440" {
			dell = e
		}
	}
	src, err := openDir(unpack(t, dell.archive))
	if err != nil {
		t.Fatal(err)
	}
	defer src.close()
	raw := components(newCollector(src))
	req := goldenRequest(t)
	cv := componentValues{
		Comment: "The machine of request-v1.json (fixture bm-dell-poweredge-r440): each component's normalised value; " +
			"hash = first 16 bytes of HMAC-SHA-256(key \"airseal fingerprint v1\\x00\" + product, name + \"\\x00\" + value), hex; " +
			"id = SHA-256 of id_input, first 10 bytes, upper-case hex in groups of 5 joined by -.",
		Product: req.Product, Need: req.Fingerprint.Need, ID: req.Fingerprint.ID(),
	}
	var lines []string
	for _, r := range raw {
		cv.Components = append(cv.Components, componentValue{Name: r.name, Weight: r.weight, NeedsRoot: r.needsRoot, Value: r.value,
			Hash: fingerprint.HashValue(req.Product, r.name, r.value)})
		lines = append(lines, r.name+":"+fingerprint.HashValue(req.Product, r.name, r.value))
	}
	sort.Strings(lines)
	cv.IDInput = strings.Join(lines, "\n")
	js, err := json.MarshalIndent(cv, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	js = append(js, '\n')
	const file = "testdata/request-v1.components.json"
	if *update {
		os.WriteFile(file, js, 0o644)
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(js, want) {
		t.Errorf("%s differs from the golden machine (review, then -update):\n%s", file, js)
	}
	// Re-check the file as data, the way an implementer without Go would.
	var onDisk componentValues
	if err := json.Unmarshal(want, &onDisk); err != nil {
		t.Fatal(err)
	}
	if len(onDisk.Components) != len(req.Fingerprint.Components) {
		t.Fatalf("%d values, the request has %d components", len(onDisk.Components), len(req.Fingerprint.Components))
	}
	for i, c := range onDisk.Components {
		rc := req.Fingerprint.Components[i]
		if fingerprint.HashValue(onDisk.Product, c.Name, c.Value) != c.Hash || c.Hash != rc.Hash || c.Name != rc.Name || c.Weight != rc.Weight || c.NeedsRoot != rc.NeedsRoot {
			t.Errorf("component %d: %+v does not give the request's %+v", i, c, rc)
		}
	}
	sum := sha256.Sum256([]byte(onDisk.IDInput))
	h := strings.ToUpper(hex.EncodeToString(sum[:10]))
	if id := h[0:5] + "-" + h[5:10] + "-" + h[10:15] + "-" + h[15:20]; id != req.Fingerprint.ID() || id != onDisk.ID {
		t.Errorf("ID from the spec's derivation %s, Fingerprint.ID %s, file %s", id, req.Fingerprint.ID(), onDisk.ID)
	}
	if onDisk.Need != req.Fingerprint.Need {
		t.Errorf("need %d, request %d", onDisk.Need, req.Fingerprint.Need)
	}
}
