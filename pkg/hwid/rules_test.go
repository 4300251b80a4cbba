package hwid

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/txtar"

	"github.com/airseal/airseal/internal/typedcode"
)

// ruleCase is one vector of testdata/request-rules.txtar: a request file
// or code that breaks (or exactly meets) one rule of request-v1.md, and
// what a reader must do with it.
type ruleCase struct {
	name string // file name in the archive: .json or .code
	want string // "accept", or a part of the refusal
	data []byte
}

// requestRuleCases builds the vectors from the golden request, each with
// one change.
func requestRuleCases(t *testing.T) []ruleCase {
	base, err := os.ReadFile("testdata/request-v1.json")
	if err != nil {
		t.Fatal(err)
	}
	golden, err := ParseRequest(base)
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(r *Request)) *Request {
		var r Request
		if err := json.Unmarshal(base, &r); err != nil {
			t.Fatal(err)
		}
		f(&r)
		return &r
	}
	asJSON := func(r *Request) []byte {
		b, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		return append(b, '\n')
	}
	asCode := func(r *Request) []byte {
		return []byte(typedcode.Encode(CodePrefix, r.appendBinary(nil)) + "\n")
	}
	replace := func(old, new string) []byte {
		if !bytes.Contains(base, []byte(old)) {
			t.Fatalf("request-v1.json has no %q", old)
		}
		return bytes.Replace(base, []byte(old), []byte(new), 1)
	}
	total := golden.Fingerprint.Total()
	var cs []ruleCase
	add := func(name, want string, data []byte) { cs = append(cs, ruleCase{name, want, data}) }
	both := func(name, want string, f func(r *Request)) {
		r := edit(f)
		add(name+".json", want, asJSON(r))
		add(name+".code", want, asCode(r))
	}

	// Duplicate member names (JSON only): refused, also when they differ
	// only in case (Go's decoder would merge them).
	add("dup-need.json", `duplicate member name "need" in the object at $.fingerprint`,
		replace(`"need": `, `"need": 1, "need": `))
	add("dup-product-case.json", `duplicate member name "Product"`,
		replace(`"product": "acme-db",`, `"product": "acme-db", "Product": "other",`))
	// needs_root: omitted when false; false written out is accepted.
	add("needs-root-false.json", "accept", replace(`"name": "cpu",`, `"name": "cpu", "needs_root": false,`))
	// created: whole seconds, UTC, 1 .. 2^40 seconds.
	add("created-fraction.json", "want a whole second", replace(`"2026-11-25T12:00:00Z"`, `"2026-11-25T12:00:00.5Z"`))
	add("created-offset.json", "write it in UTC", replace(`"2026-11-25T12:00:00Z"`, `"2026-11-25T15:00:00+03:00"`))
	both("created-max", "accept", func(r *Request) { r.Created = time.Unix(maxUnixTime, 0).UTC() })
	add("created-above-max.code", "want a whole second from 1970-01-01T00:00:01Z to 9999-12-31T23:59:59Z", asCode(edit(func(r *Request) { r.Created = time.Unix(maxUnixTime+1, 0).UTC() })))
	add("created-2pow40.code", "want a whole second from 1970-01-01T00:00:01Z to 9999-12-31T23:59:59Z", asCode(edit(func(r *Request) { r.Created = time.Unix(1<<40, 0).UTC() })))
	add("created-year-10000.json", "parsing time", replace(`"2026-11-25T12:00:00Z"`, `"10000-01-01T00:00:00Z"`))
	both("created-epoch", "want a whole second from 1970-01-01T00:00:01Z", func(r *Request) { r.Created = time.Unix(0, 0).UTC() })
	// Weights 1 .. 1000 and need 1 .. total, the same in file and code.
	both("weight-1000", "accept", func(r *Request) { r.Fingerprint.Components[0].Weight = 1000 })
	both("weight-1001", "weight 1001; want 1 to 1000", func(r *Request) { r.Fingerprint.Components[0].Weight = 1001 })
	both("weight-0", "weight 0; want 1 to 1000", func(r *Request) { r.Fingerprint.Components[0].Weight = 0 })
	both("need-total", "accept", func(r *Request) { r.Fingerprint.Need = total })
	both("need-above-total", "need must be between 1 and the total", func(r *Request) { r.Fingerprint.Need = total + 1 })
	both("need-0", "need must be between 1 and the total", func(r *Request) { r.Fingerprint.Need = 0 })
	// Component names: 1-64 of a-z 0-9 _ . -
	both("name-vendor", "accept", func(r *Request) { r.Fingerprint.Components[1].Name = "vendor.tpm-ek_2" })
	both("name-upper", "use only a-z, 0-9", func(r *Request) { r.Fingerprint.Components[1].Name = "Disk" })
	both("name-65", "want 1 to 64 characters", func(r *Request) { r.Fingerprint.Components[1].Name = strings.Repeat("a", 65) })
	// Text: no C0, DEL, C1 (U+0085 included) or bidi controls; any script.
	both("text-cyrillic", "accept", func(r *Request) { r.Customer = "ООО «Ромашка»" })
	both("text-nel", "U+0085", func(r *Request) { r.Customer = "Example\u0085Corp" })
	both("text-esc", "U+001B", func(r *Request) { r.Customer = "Example\x1b[2JCorp" })
	both("text-del", "U+007F", func(r *Request) { r.Customer = "Example\x7fCorp" })
	both("text-csi", "U+009B", func(r *Request) { r.Hostname = "host\u009b2J" })
	both("text-bidi", "U+202E", func(r *Request) { r.OS = "Linux \u202eexe.txt" })
	return cs
}

const rulesFile = "testdata/request-rules.txtar"

// Issue 8 item 17: every limit of request-v1.md has a vector, in the file
// and in the code form alike, and ParseRequest does what the archive's
// comment says for each.
func TestRequestRuleVectors(t *testing.T) {
	cs := requestRuleCases(t)
	var ar txtar.Archive
	var comment strings.Builder
	comment.WriteString("Rule vectors of docs/spec/request-v1.md (issue 8 item 17): each file is a\n" +
		"request that meets or breaks one rule; a reader must accept it or refuse it\n" +
		"with an error saying the part given below. Regenerate with\n" +
		"go test ./pkg/hwid -run TestRequestRuleVectors -update\n\n")
	for _, c := range cs {
		fmt.Fprintf(&comment, "%s: %s\n", c.name, c.want)
		ar.Files = append(ar.Files, txtar.File{Name: c.name, Data: c.data})
	}
	ar.Comment = []byte(comment.String())
	gen := txtar.Format(&ar)
	if *update {
		if err := os.WriteFile(rulesFile, gen, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	disk, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if !bytes.Equal(disk, gen) {
		t.Errorf("%s differs from what the code generates (review, then -update)", rulesFile)
	}
	// As data, from disk: the expectations are the comment's lines.
	onDisk := txtar.Parse(disk)
	want := map[string]string{}
	for _, l := range strings.Split(string(onDisk.Comment), "\n") {
		if name, w, ok := strings.Cut(l, ": "); ok && (strings.HasSuffix(name, ".json") || strings.HasSuffix(name, ".code")) {
			want[name] = w
		}
	}
	if len(want) != len(onDisk.Files) || len(want) == 0 {
		t.Fatalf("%d expectations for %d files", len(want), len(onDisk.Files))
	}
	for _, f := range onDisk.Files {
		_, err := ParseRequest(f.Data)
		switch w := want[f.Name]; {
		case w == "accept" && err != nil:
			t.Errorf("%s: refused (%v), want accepted", f.Name, err)
		case w != "accept" && (err == nil || !strings.Contains(err.Error(), w)):
			t.Errorf("%s: %v, want a refusal saying %q", f.Name, err, w)
		}
	}
}
