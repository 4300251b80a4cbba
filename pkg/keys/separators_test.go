package keys

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
)

var updateKeys = flag.Bool("update", false, "rewrite testdata/separators.txtar")

const separatorsFile = "testdata/separators.txtar"

// separatorCases are key files whose fields are separated in every way the
// one rule of keys-v1.md allows, and in ways it does not. The private key is
// the test key of seed 01×32 sealed with passphrase "pw" (LogN 10, salt and
// nonce bytes 03), so the file is the same on every run.
func separatorCases(t *testing.T) (names, wants []string, files []string) {
	k, err := NewPrivateKey(bytes.Repeat([]byte{1}, 32))
	if err != nil {
		t.Fatal(err)
	}
	pub := string(k.Public().MarshalPublic())
	sealed, err := k.Seal([]byte("pw"), &SealOptions{LogN: 10, Rand: bytes.NewReader(bytes.Repeat([]byte{3}, 64))})
	if err != nil {
		t.Fatal(err)
	}
	priv := string(sealed)
	add := func(name, want, file string) {
		names, wants, files = append(names, name), append(wants, want), append(files, file)
	}
	// The key line is the last line of the public file; the header the
	// third of the private one.
	pubLine := strings.Split(strings.TrimSpace(pub), "\n")[2]
	privLines := strings.Split(priv, "\n")
	header := privLines[2]
	respacePub := func(sep string) string {
		return strings.Replace(pub, pubLine, strings.ReplaceAll(pubLine, " ", sep), 1)
	}
	respacePriv := func(sep string) string {
		return strings.Replace(priv, header, strings.ReplaceAll(header, " ", sep), 1)
	}
	add("public.pub", "accept", pub)
	add("public-double-space.pub", "accept", respacePub("  "))
	add("public-tab.pub", "accept", respacePub("\t"))
	add("public-space-tab.pub", "accept", respacePub(" \t "))
	add("public-crlf.pub", "accept", strings.ReplaceAll(pub, "\n", "\r\n"))
	add("public-indented.pub", "accept", strings.Replace(pub, pubLine, "\t "+pubLine+"  ", 1))
	add("public-nbsp.pub", "refuse", respacePub("\u00a0"))
	add("public-nel.pub", "refuse", respacePub("\u0085"))
	add("public-vtab.pub", "refuse", respacePub("\v"))
	add("private.key", "accept", priv)
	add("private-double-space.key", "accept", respacePriv("  "))
	add("private-tab.key", "accept", respacePriv("\t"))
	add("private-crlf.key", "accept", strings.ReplaceAll(priv, "\n", "\r\n"))
	add("private-nbsp.key", "refuse", respacePriv("\u00a0"))
	add("private-field-changed.key", "refuse", strings.Replace(priv, header, strings.Replace(header, " scrypt 10 8 1 ", " scrypt 10 8 2 ", 1), 1))
	return
}

// Issue 8 item 17: one field-separator rule for both key files, with a
// vector for each way of separating fields (testdata/separators.txtar).
func TestSeparatorVectors(t *testing.T) {
	names, wants, files := separatorCases(t)
	var ar txtar.Archive
	var c strings.Builder
	c.WriteString("Field-separator vectors of docs/spec/keys-v1.md (issue 8 item 17). Public\n" +
		"key files must parse, private key files must open with passphrase \"pw\", to\n" +
		"the key of seed 01x32 (ID 3602c5ce218089f6), or be refused, as listed.\n" +
		"Regenerate with go test ./pkg/keys -run TestSeparatorVectors -update\n\n")
	for i, n := range names {
		fmt.Fprintf(&c, "%s: %s\n", n, wants[i])
		ar.Files = append(ar.Files, txtar.File{Name: n, Data: []byte(files[i])})
	}
	ar.Comment = []byte(c.String())
	gen := txtar.Format(&ar)
	if *updateKeys {
		if err := os.WriteFile(separatorsFile, gen, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	disk, err := os.ReadFile(separatorsFile)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if !bytes.Equal(disk, gen) {
		t.Errorf("%s differs from what the code generates (review, then -update)", separatorsFile)
	}
	onDisk := txtar.Parse(disk)
	want := map[string]string{}
	for _, l := range strings.Split(string(onDisk.Comment), "\n") {
		if name, w, ok := strings.Cut(l, ": "); ok && !strings.Contains(name, " ") {
			want[name] = w
		}
	}
	if len(want) != len(onDisk.Files) {
		t.Fatalf("%d expectations for %d files", len(want), len(onDisk.Files))
	}
	for _, f := range onDisk.Files {
		var id ID
		var err error
		if strings.HasSuffix(f.Name, ".pub") {
			var k *PublicKey
			if k, err = ParsePublic(f.Data); err == nil {
				id = k.ID()
			}
		} else {
			var k *PrivateKey
			if k, err = Open(f.Data, []byte("pw")); err == nil {
				id = k.ID()
			}
		}
		switch want[f.Name] {
		case "accept":
			if err != nil || id != "3602c5ce218089f6" {
				t.Errorf("%s: %v (key %s), want accepted", f.Name, err, id)
			}
		case "refuse":
			if err == nil {
				t.Errorf("%s: accepted, want refused", f.Name)
			}
		default:
			t.Errorf("%s: no expectation", f.Name)
		}
	}
}
