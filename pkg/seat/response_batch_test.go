package seat

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files under testdata/ (only with a protocol version change)")

// batchResponses returns n distinct answers, as n clients would get them.
func batchResponses(n int) []Response {
	rs := make([]Response, n)
	for i := range rs {
		rs[i] = Response{QueryID: fmt.Sprintf("q-%016d", i), Method: "POST", Path: "/api/sessions", Status: 201,
			Time: "2026-12-01T22:25:00Z", Body: []byte(fmt.Sprintf(`{"ID":"L-%d"}`, i))}
	}
	return rs
}

func leavesOf(rs []Response) []Hash {
	ls := make([]Hash, len(rs))
	for i, r := range rs {
		ls[i] = r.LeafHash()
	}
	return ls
}

// refRoot and refPath are RFC 6962's MTH and PATH, written from the RFC's
// recursive definition (section 2.1), to check the iterative tree.
func refRoot(leaves []Hash) Hash {
	if len(leaves) == 1 {
		return leaves[0]
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	l, r := refRoot(leaves[:k]), refRoot(leaves[k:])
	return nodeHash(&l, &r)
}

func refPath(m int, leaves []Hash) []Hash {
	if len(leaves) == 1 {
		return nil
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	if m < k {
		return append(refPath(m, leaves[:k]), refRoot(leaves[k:]))
	}
	return append(refPath(m-k, leaves[k:]), refRoot(leaves[:k]))
}

// TestBatchTreeIsRFC6962: the tree, its root and every path are RFC
// 6962's for every size up to MaxBatch, and the path lengths are the ones
// the parser demands.
func TestBatchTreeIsRFC6962(t *testing.T) {
	all := leavesOf(batchResponses(MaxBatch))
	for n := 2; n <= MaxBatch; n++ {
		root, proofs, err := BatchTree(all[:n])
		if err != nil {
			t.Fatal(err)
		}
		if root != refRoot(all[:n]) {
			t.Fatalf("n=%d: root differs from RFC 6962's", n)
		}
		for i, p := range proofs {
			want := refPath(i, all[:n])
			if p.Index != i || p.Count != n || len(p.Path) != len(want) || len(p.Path) != proofLen(i, n) || len(p.Path) > MaxProofLevels {
				t.Fatalf("n=%d i=%d: proof %d/%d with %d hashes, want %d", n, i, p.Index, p.Count, len(p.Path), len(want))
			}
			for k := range want {
				if p.Path[k] != want[k] {
					t.Fatalf("n=%d i=%d: path[%d] differs from RFC 6962's", n, i, k)
				}
			}
		}
	}
	for _, n := range []int{0, 1, MaxBatch + 1} {
		if _, _, err := BatchTree(make([]Hash, n)); err == nil {
			t.Errorf("BatchTree of %d leaves: no error", n)
		}
	}
}

// TestBatchRoundTrip: for n = 1..17 every answer verifies in either form
// through its header text: n = 1 is today's single signature (no proof).
func TestBatchRoundTrip(t *testing.T) {
	key := testKey()
	pub := key.Public().(ed25519.PublicKey)
	for n := 1; n <= 17; n++ {
		rs := batchResponses(n)
		if n == 1 {
			if err := rs[0].VerifyAnswer(pub, rs[0].Sign(key), ""); err != nil {
				t.Fatalf("n=1: %v", err)
			}
			continue
		}
		sig, proofs, err := SignBatch(key, leavesOf(rs))
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range rs {
			text := proofs[i].String()
			if err := r.VerifyAnswer(pub, sig, text); err != nil {
				t.Fatalf("n=%d i=%d (%s): %v", n, i, text, err)
			}
			p, err := ParseProof(text)
			if err != nil || p.String() != text {
				t.Fatalf("n=%d i=%d: %q does not parse back: %v", n, i, text, err)
			}
			// A batch signature is no single signature.
			if err := r.VerifyAnswer(pub, sig, ""); !errors.Is(err, ErrBadResponseSignature) {
				t.Fatalf("n=%d i=%d: batch signature accepted without its proof: %v", n, i, err)
			}
		}
	}
}

// TestBatchRefusesTampering: an answer changed, moved, given another
// answer's proof or a proof changed in any part, or signed by another key
// is refused.
func TestBatchRefusesTampering(t *testing.T) {
	key := testKey()
	pub := key.Public().(ed25519.PublicKey)
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{8}, ed25519.SeedSize))
	for _, n := range []int{2, 3, 5, 8, 13, 17} {
		rs := batchResponses(n)
		sig, proofs, err := SignBatch(key, leavesOf(rs))
		if err != nil {
			t.Fatal(err)
		}
		otherSig, _, _ := SignBatch(other, leavesOf(rs))
		for i := range rs {
			refuse := func(what string, r Response, sig []byte, proof string) {
				t.Helper()
				err := r.VerifyAnswer(pub, sig, proof)
				if !errors.Is(err, ErrBadResponseSignature) && !errors.Is(err, ErrBadProof) {
					t.Errorf("n=%d i=%d %s: accepted (err %v)", n, i, what, err)
				}
			}
			p := proofs[i]
			r := rs[i]
			body := r
			body.Body = []byte(`{"ID":"L-forged"}`)
			refuse("body changed", body, sig, p.String())
			qid := r
			qid.QueryID = "q-replayed-00000000"
			refuse("query ID changed", qid, sig, p.String())
			status := r
			status.Status = 200
			refuse("status changed", status, sig, p.String())
			refuse("another key's signature", r, otherSig, p.String())
			refuse("single signature by another key", r, r.Sign(other), "")
			for j := range rs {
				if j != i {
					refuse(fmt.Sprintf("proof of answer %d", j), r, sig, proofs[j].String())
					// Swapped leaves: answer j at i's place.
					refuse(fmt.Sprintf("answer %d at index %d", j, i), rs[j], sig, p.String())
				}
			}
			for idx := 0; idx < n; idx++ {
				if idx != i {
					q := Proof{Index: idx, Count: n, Path: p.Path}
					refuse(fmt.Sprintf("index %d", idx), r, sig, q.String())
				}
			}
			for cnt := 2; cnt <= 20; cnt++ {
				if cnt != n {
					q := Proof{Index: i, Count: cnt, Path: p.Path}
					refuse(fmt.Sprintf("count %d", cnt), r, sig, q.String())
				}
			}
			for k := range p.Path {
				q := Proof{Index: i, Count: n, Path: append([]Hash(nil), p.Path...)}
				q.Path[k][k%32] ^= 1
				refuse(fmt.Sprintf("sibling %d changed", k), r, sig, q.String())
			}
			short := Proof{Index: i, Count: n, Path: p.Path[:len(p.Path)-1]}
			refuse("truncated path", r, sig, short.String())
			long := Proof{Index: i, Count: n, Path: append(append([]Hash(nil), p.Path...), Hash{})}
			refuse("longer path", r, sig, long.String())
			text := p.String()
			refuse("proof text cut", r, sig, text[:len(text)-4])
			refuse("proof text extended", r, sig, text+"AAAA")
		}
	}
}

// TestBatchNodeIsNoLeaf: an inner node of a signed tree cannot pass for a
// leaf, even with a count that makes the same root: the count is signed,
// and the leaf prefix differs from the node prefix.
func TestBatchNodeIsNoLeaf(t *testing.T) {
	key := testKey()
	pub := key.Public().(ed25519.PublicKey)
	leaves := leavesOf(batchResponses(4))
	sig, _, err := SignBatch(key, leaves)
	if err != nil {
		t.Fatal(err)
	}
	n01, n23 := nodeHash(&leaves[0], &leaves[1]), nodeHash(&leaves[2], &leaves[3])
	// The two inner nodes as the leaves of a tree of 2: the same root.
	forged := Proof{Index: 0, Count: 2, Path: []Hash{n23}}
	if root, _ := forged.Root(n01); root != nodeHash(&n01, &n23) {
		t.Fatal("the forged proof does not even reach the root")
	}
	if err := verifyLeaf(pub, sig, n01, forged); !errors.Is(err, ErrBadResponseSignature) {
		t.Fatalf("inner node accepted as a leaf of a tree of 2: %v", err)
	}
	// And no answer's leaf is an inner node: the prefixes differ.
	r := batchResponses(1)[0]
	m := r.Message()
	if leafHash(m) == sha256.Sum256(append([]byte{nodePrefix}, m...)) {
		t.Fatal("leaf and node hashes agree")
	}
}

// TestParseProofStrict: only the canonical text parses.
func TestParseProofStrict(t *testing.T) {
	path := func(k int) string { return base64.StdEncoding.EncodeToString(make([]byte, 32*k)) }
	good := []string{"0 2 " + path(1), "1 3 " + path(2), "2 3 " + path(1), "255 256 " + path(8), "16 17 " + path(1)}
	for _, s := range good {
		if p, err := ParseProof(s); err != nil || p.String() != s {
			t.Errorf("%q: %v", s, err)
		}
	}
	bad := []string{
		"", "0 2", "0 2 " + path(1) + " ", " 0 2 " + path(1), "0  2 " + path(1), "0\t2 " + path(1),
		"00 2 " + path(1), "0 02 " + path(1), "+0 2 " + path(1), "-1 2 " + path(1), "0 x " + path(1),
		"2 2 " + path(1), "0 1 ", "0 1 " + path(0), "0 0 ", "0 257 " + path(9), "0 1000 " + path(1),
		"0 2 " + path(2), "0 2 " + path(0), "0 3 " + path(1), "2 3 " + path(2),
		"0 2 " + strings.TrimRight(path(1), "="), "0 2 " + base64.RawURLEncoding.EncodeToString(make([]byte, 32)),
		"0 2 " + strings.Replace(path(1), "A", "-", 1), "0 2 " + path(1)[:43] + "B=", // non-zero padding bits
		"0 256 " + path(8) + path(8),
	}
	for _, s := range bad {
		if _, err := ParseProof(s); !errors.Is(err, ErrBadProof) {
			t.Errorf("%q: err = %v, want ErrBadProof", s, err)
		}
	}
}

// batchGolden is the golden vector of the batch form
// (testdata/batch-signature-v1.json).
type batchGolden struct {
	Comment   string   `json:"comment"`
	KeySeed   string   `json:"key_seed"`
	Messages  []string `json:"messages"` // Response.Message, hex
	Leaves    []string `json:"leaves"`
	Root      string   `json:"root"`
	Signed    string   `json:"signed_message"` // BatchMessage, hex
	Signature string   `json:"signature"`      // Licence-Signature
	Proofs    []string `json:"proofs"`         // Licence-Signature-Proof
}

// TestBatchGolden pins the batch form byte for byte for testKey and three
// answers: leaves, root, signed message, signature and proof headers.
func TestBatchGolden(t *testing.T) {
	key := testKey()
	rs := batchResponses(3)
	leaves := leavesOf(rs)
	root, _, _ := BatchTree(leaves)
	sig, proofs, err := SignBatch(key, leaves)
	if err != nil {
		t.Fatal(err)
	}
	g := batchGolden{Comment: "seat-protocol-v1.md, Batched signatures: key = Ed25519 seed key_seed; answers signed as one batch of 3",
		KeySeed: hex.EncodeToString(key.Seed()), Root: hex.EncodeToString(root[:]),
		Signed: hex.EncodeToString(BatchMessage(3, root)), Signature: base64.StdEncoding.EncodeToString(sig)}
	for i, r := range rs {
		g.Messages = append(g.Messages, hex.EncodeToString(r.Message()))
		g.Leaves = append(g.Leaves, hex.EncodeToString(leaves[i][:]))
		g.Proofs = append(g.Proofs, proofs[i].String())
	}
	got, _ := json.MarshalIndent(g, "", "  ")
	got = append(got, '\n')
	file := filepath.Join("testdata", "batch-signature-v1.json")
	if *updateGolden {
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (create it with go test -run TestBatchGolden -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("the batch form changed; %s pins:\n%s\ngot:\n%s", file, want, got)
	}
	// The file verifies on its own: what another implementation checks.
	var w batchGolden
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	wsig, _ := base64.StdEncoding.DecodeString(w.Signature)
	for i := range w.Messages {
		m, _ := hex.DecodeString(w.Messages[i])
		p, err := ParseProof(w.Proofs[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := verifyLeaf(key.Public().(ed25519.PublicKey), wsig, leafHash(m), p); err != nil {
			t.Fatalf("golden answer %d: %v", i, err)
		}
	}
}

// FuzzParseProof: a proof header either is refused or is the canonical
// text of what it decodes to; and an answer verifies with it only when it
// is exactly that answer's proof in the signed batch.
func FuzzParseProof(f *testing.F) {
	key := testKey()
	pub := key.Public().(ed25519.PublicKey)
	rs := batchResponses(5)
	sig, proofs, err := SignBatch(key, leavesOf(rs))
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range proofs {
		f.Add(p.String())
	}
	f.Add("0 2 " + base64.StdEncoding.EncodeToString(make([]byte, 32)))
	f.Add("255 256 " + base64.StdEncoding.EncodeToString(make([]byte, 256)))
	f.Add("1 2 AAAA")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseProof(s)
		if err != nil {
			if !errors.Is(err, ErrBadProof) {
				t.Fatalf("%q: error %v is not ErrBadProof", s, err)
			}
			return
		}
		if p.String() != s {
			t.Fatalf("%q parses, but its canonical text is %q", s, p.String())
		}
		if p.Count < 2 || p.Count > MaxBatch || p.Index < 0 || p.Index >= p.Count || len(p.Path) > MaxProofLevels {
			t.Fatalf("%q: out of bounds: %d of %d, %d hashes", s, p.Index, p.Count, len(p.Path))
		}
		if _, err := p.Root(Hash{}); err != nil {
			t.Fatalf("%q parses but its path does not fit: %v", s, err)
		}
		for i, r := range rs {
			if r.VerifyAnswer(pub, sig, s) == nil && s != proofs[i].String() {
				t.Fatalf("answer %d accepted with proof %q, its own is %q", i, s, proofs[i].String())
			}
		}
	})
}

// TestVerifyReplyBatch: the client's check of an answer takes a batch
// proof header and refuses one repeated, empty, or of another answer.
func TestVerifyReplyBatch(t *testing.T) {
	key := FakeResponseKey(0x40)
	pub := key.Public().(ed25519.PublicKey)
	ring := map[string]ed25519.PublicKey{ResponseKeyID(pub): pub}
	tm := FakeEpoch.Format(TimeFormat)
	rs := batchResponses(3)
	for i := range rs {
		rs[i].Time = tm
	}
	sig, proofs, err := SignBatch(key, leavesOf(rs))
	if err != nil {
		t.Fatal(err)
	}
	reply := func(i int, proof ...string) *rawReply {
		h := http.Header{}
		h.Set(HeaderQueryID, rs[i].QueryID)
		h.Set(HeaderKey, ResponseKeyID(pub))
		h.Set(HeaderTime, tm)
		h.Set(HeaderSignature, base64.StdEncoding.EncodeToString(sig))
		for _, p := range proof {
			h.Add(HeaderSignatureProof, p)
		}
		return &rawReply{server: "http://127.0.0.1:9099", method: rs[i].Method, path: rs[i].Path, queryID: rs[i].QueryID,
			status: rs[i].Status, header: h, body: rs[i].Body}
	}
	for i := range rs {
		if _, err := verifyReply(reply(i, proofs[i].String()), ring, FakeEpoch); err != nil {
			t.Fatalf("answer %d: %v", i, err)
		}
	}
	cases := map[string]*rawReply{
		"no proof":          reply(0),
		"empty proof":       reply(0, ""),
		"proof twice":       reply(0, proofs[0].String(), proofs[0].String()),
		"another's proof":   reply(0, proofs[1].String()),
		"malformed proof":   reply(0, "0 3 AAAA"),
		"out of bounds":     reply(0, "0 300 "+base64.StdEncoding.EncodeToString(make([]byte, 32*9))),
		"proof with spaces": reply(0, " "+proofs[0].String()),
	}
	for name, r := range cases {
		_, err := verifyReply(r, ring, FakeEpoch)
		if !errors.Is(err, ErrUntrustedServer) {
			t.Errorf("%s: err = %v, want ErrUntrustedServer", name, err)
		}
	}
}

// TestSignatureHeadersDocumented: every header of the signature scheme is
// in the protocol spec and in the API reference.
func TestSignatureHeadersDocumented(t *testing.T) {
	for _, file := range []string{"../../docs/spec/seat-protocol-v1.md", "../../docs/api.md"} {
		doc, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range []string{HeaderQueryID, HeaderTime, HeaderKey, HeaderSignature, HeaderLicenceSet, HeaderSignatureBatch, HeaderSignatureProof} {
			if !bytes.Contains(doc, []byte("`"+h)) && !bytes.Contains(doc, []byte("    "+h+":")) {
				t.Errorf("%s does not document the header %s", file, h)
			}
		}
	}
}
