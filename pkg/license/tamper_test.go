package license

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/airseal/airseal/pkg/keys"
)

// The tamper tests change every single byte (or character) of a valid
// license, one at a time, and require every result to be rejected.

func tamperLicense(t *testing.T) (*License, *keys.PrivateKey) {
	k := testKey(t, 1)
	return signed(t, sampleLicense(20, true), k), k
}

func mustReject(t *testing.T, what string, pos int, in []byte, opts VerifyOptions) {
	t.Helper()
	_, err := Verify(in, opts)
	if err == nil {
		t.Fatalf("%s: changing position %d was accepted", what, pos)
	}
	if c := exitCode(err); c != 10 && c != 11 {
		t.Fatalf("%s: changing position %d gave %v (exit %d), want malformed, bad signature or unknown key", what, pos, err, c)
	}
}

func TestTamperFileEveryByte(t *testing.T) {
	l, k := tamperLicense(t)
	in := mustArmor(t, l)
	opts := baseOpts(k)
	if _, err := Verify(in, opts); err != nil {
		t.Fatal(err)
	}
	for i := range in {
		for bit := range 8 {
			d := bytes.Clone(in)
			d[i] ^= 1 << bit
			mustReject(t, "file", i, d, opts)
		}
	}
}

func TestTamperRawEveryByte(t *testing.T) {
	l, k := tamperLicense(t)
	in := mustRaw(t, l)
	opts := baseOpts(k)
	for i := range in {
		for bit := range 8 {
			d := bytes.Clone(in)
			d[i] ^= 1 << bit
			mustReject(t, "raw", i, d, opts)
		}
	}
}

func TestTamperCodeEveryCharacter(t *testing.T) {
	l, k := tamperLicense(t)
	code := mustCode(t, l)
	opts := baseOpts(k)
	const chars = "0123456789ABCDEFGHJKMNPQRSTVWXYZ-"
	for i := range len(code) {
		for _, c := range []byte(chars) {
			if c == code[i] {
				continue
			}
			d := []byte(code)
			d[i] = c
			mustReject(t, "code", i, d, opts)
		}
	}
	// Forgiven on purpose: case, spaces and line breaks between groups.
	relaxed := strings.ToLower(strings.ReplaceAll(code, "-", " "))
	if _, err := Verify([]byte(relaxed), opts); err != nil {
		t.Errorf("lower-case code with spaces: %v", err)
	}
}

func TestTamperCommentOnly(t *testing.T) {
	l, k := tamperLicense(t)
	l.Comment = "renewal 2026"
	in := mustArmor(t, l)
	opts := baseOpts(k)
	start := len(CommentPrefix)
	end := strings.Index(string(in), "\n")
	for i := start; i < end; i++ {
		d := bytes.Clone(in)
		d[i] ^= 1
		got, err := Verify(d, opts)
		if err != nil {
			t.Fatalf("changing comment byte %d: %v", i, err)
		}
		if got.Comment == l.Comment {
			t.Fatalf("changing comment byte %d did not change the comment", i)
		}
	}
}

// resign signs a hand-made payload so that only canonicality can reject it.
func resign(k *keys.PrivateKey, payload []byte) []byte {
	return append(bytes.Clone(payload), k.Sign(signedMessage(payload))...)
}

func TestNonCanonicalRejected(t *testing.T) {
	k := testKey(t, 1)
	l := sampleLicense(0, false)
	l.Edition = ""
	l.Features = []Feature{{Name: "feature_a", Value: 1, IsBool: true}, {Name: "feature_b", Value: 1, IsBool: true}}
	signed(t, l, k)
	p, err := l.MarshalPayload()
	if err != nil {
		t.Fatal(err)
	}
	opts := baseOpts(k)
	opts.Machine = nil
	if _, err := Verify(resign(k, p), opts); err != nil {
		t.Fatalf("canonical payload: %v", err)
	}
	editionAt := 1 + 8 + 1 + len(l.Serial) + 1 + len(l.Product)
	if p[editionAt] != 0 {
		t.Fatalf("edition length not at %d", editionAt)
	}
	swap := func(p []byte, a, b string) []byte {
		p = bytes.Replace(p, []byte(a), []byte("feature_X"), 1)
		p = bytes.Replace(p, []byte(b), []byte(a), 1)
		return bytes.Replace(p, []byte("feature_X"), []byte(b), 1)
	}
	boolAt := bytes.Index(p, []byte("feature_a")) + len("feature_a") + 1
	cases := map[string][]byte{
		"trailing byte":      append(bytes.Clone(p), 0),
		"non-minimal varint": append(append(bytes.Clone(p[:editionAt]), 0x80, 0x00), p[editionAt+1:]...),
		"unsorted features":  swap(bytes.Clone(p), "feature_a", "feature_b"),
		"repeated feature":   bytes.Replace(bytes.Clone(p), []byte("feature_b"), []byte("feature_a"), 1),
		"flag value 2":       append(append(bytes.Clone(p[:boolAt]), 2), p[boolAt+1:]...),
		"unknown version":    append([]byte{2}, p[1:]...),
		"truncated":          p[:len(p)-1],
	}
	for name, q := range cases {
		t.Run(name, func(t *testing.T) {
			if bytes.Equal(q, p) {
				t.Fatal("case did not change the payload")
			}
			_, err := Verify(resign(k, q), opts)
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("err = %v, want ErrMalformed", err)
			}
		})
	}

	// The armor must be canonical too: the same bytes in 76-column base64
	// lines are refused.
	a := string(mustArmor(t, l))
	lines := strings.Split(a, "\n")
	body := strings.Join(lines[1:len(lines)-2], "")
	var re strings.Builder
	re.WriteString(lines[0] + "\n")
	for len(body) > 76 {
		re.WriteString(body[:76] + "\n")
		body = body[76:]
	}
	re.WriteString(body + "\n" + lines[len(lines)-2] + "\n")
	if _, err := Verify([]byte(re.String()), opts); !errors.Is(err, ErrMalformed) {
		t.Errorf("reflowed armor: err = %v, want ErrMalformed", err)
	}
}
