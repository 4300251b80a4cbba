package seat

// This file holds the batched form of the response signature: one Ed25519
// signature over the root of a Merkle tree (RFC 9162 style) whose leaves
// are the messages of several answers, each answer carrying the sibling
// hashes that lead from its leaf to the root (docs/spec/
// seat-protocol-v1.md, "Batched signatures").

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Headers of the batched signature.
const (
	// HeaderSignatureBatch is sent by a client that verifies batched
	// signatures, with the value BatchAccept. The server signs an answer
	// in a batch only when its request carried it; every other answer is
	// signed alone (HeaderSignature over Response.Message), so clients
	// that predate batching keep working.
	HeaderSignatureBatch = "Licence-Signature-Batch"
	// HeaderSignatureProof carries an answer's place in a batch (Proof's
	// text form). An answer signed alone has none.
	HeaderSignatureProof = "Licence-Signature-Proof"
	// BatchAccept is the value of HeaderSignatureBatch.
	BatchAccept = "1"
)

// Bounds of a batch.
const (
	// MaxBatch is the largest number of answers one batch signature
	// covers; a proof naming more is refused.
	MaxBatch = 256
	// MaxProofLevels is the most sibling hashes a proof carries (the
	// height of a tree of MaxBatch leaves).
	MaxProofLevels = 8
)

// batchDomain separates batch signatures from single response signatures
// (responseDomain) and every other airseal signature.
const batchDomain = "airseal seat response batch v1\x00"

// Leaf and node prefixes of the tree (RFC 9162, 2.1.1): a leaf hash can
// never be taken for a node hash, nor a node for a leaf.
const (
	leafPrefix = 0x00
	nodePrefix = 0x01
)

// Hash is a SHA-256 hash of the batch tree.
type Hash = [sha256.Size]byte

// ErrBadProof is returned for a Licence-Signature-Proof header that does
// not decode, or whose index, count and path do not fit together.
var ErrBadProof = errors.New("seat: malformed batch signature proof")

// LeafHash returns r's leaf in a batch tree: SHA-256 of 0x00 followed by
// r.Message() (which starts with the response domain).
func (r Response) LeafHash() Hash {
	return leafHash(r.Message())
}

// MessageLeafHash is LeafHash of the answer whose Message is msg (a
// server that has the message already).
func MessageLeafHash(msg []byte) Hash { return leafHash(msg) }

func leafHash(msg []byte) Hash {
	h := sha256.New()
	h.Write([]byte{leafPrefix})
	h.Write(msg)
	var out Hash
	h.Sum(out[:0])
	return out
}

func nodeHash(left, right *Hash) Hash {
	var buf [1 + 2*sha256.Size]byte
	buf[0] = nodePrefix
	copy(buf[1:], left[:])
	copy(buf[1+sha256.Size:], right[:])
	return sha256.Sum256(buf[:])
}

// BatchMessage returns the bytes a batch signature covers: the batch
// domain, the number of answers as a 4-byte big-endian integer, and the
// tree's root.
func BatchMessage(count int, root Hash) []byte {
	m := make([]byte, 0, len(batchDomain)+4+len(root))
	m = append(m, batchDomain...)
	m = binary.BigEndian.AppendUint32(m, uint32(count))
	return append(m, root[:]...)
}

// Proof is an answer's place in a signed batch: its index among Count
// answers and the sibling hashes from its leaf up to the root.
type Proof struct {
	Index int
	Count int
	Path  []Hash
}

// proofLen returns how many sibling hashes the proof of leaf index in a
// tree of count leaves has. At each level a node has a sibling unless it
// is the last one and has none on its right (it is promoted unchanged).
func proofLen(index, count int) int {
	n := 0
	for fn, sn := index, count-1; sn > 0; fn, sn = fn>>1, sn>>1 {
		if fn&1 == 1 || fn < sn {
			n++
		}
	}
	return n
}

// BatchTree builds the tree over leaves (2 to MaxBatch of them) and
// returns its root and each leaf's proof. The tree is RFC 9162's: for n
// leaves the left subtree holds the largest power of two below n.
func BatchTree(leaves []Hash) (Hash, []Proof, error) {
	n := len(leaves)
	if n < 2 || n > MaxBatch {
		return Hash{}, nil, fmt.Errorf("seat: a batch has 2 to %d answers, not %d", MaxBatch, n)
	}
	proofs := make([]Proof, n)
	for i := range proofs {
		proofs[i] = Proof{Index: i, Count: n, Path: make([]Hash, 0, proofLen(i, n))}
	}
	level := append([]Hash(nil), leaves...)
	// span is how many leaves one node of the level covers.
	for span := 1; len(level) > 1; span *= 2 {
		next := make([]Hash, (len(level)+1)/2)
		for j := 0; j < len(level); j += 2 {
			if j+1 == len(level) {
				next[j/2] = level[j] // promoted: no sibling at this level
				continue
			}
			next[j/2] = nodeHash(&level[j], &level[j+1])
			// Leaves under the left node get the right one as sibling,
			// and the other way round.
			for i := j * span; i < min((j+1)*span, n); i++ {
				proofs[i].Path = append(proofs[i].Path, level[j+1])
			}
			for i := (j + 1) * span; i < min((j+2)*span, n); i++ {
				proofs[i].Path = append(proofs[i].Path, level[j])
			}
		}
		level = next
	}
	return level[0], proofs, nil
}

// SignBatch signs the answers whose leaves are given as one batch with
// key and returns the signature all of them carry and each one's proof.
func SignBatch(key ed25519.PrivateKey, leaves []Hash) ([]byte, []Proof, error) {
	root, proofs, err := BatchTree(leaves)
	if err != nil {
		return nil, nil, err
	}
	return ed25519.Sign(key, BatchMessage(len(leaves), root)), proofs, nil
}

// Root returns the root the proof leads to from leaf, after checking that
// the path has exactly the length the index and count give.
func (p Proof) Root(leaf Hash) (Hash, error) {
	if p.Count < 2 || p.Count > MaxBatch || p.Index < 0 || p.Index >= p.Count {
		return Hash{}, fmt.Errorf("%w: index %d of %d answers (want 2 to %d answers)", ErrBadProof, p.Index, p.Count, MaxBatch)
	}
	if want := proofLen(p.Index, p.Count); len(p.Path) != want {
		return Hash{}, fmt.Errorf("%w: %d sibling hashes for index %d of %d answers, want %d", ErrBadProof, len(p.Path), p.Index, p.Count, want)
	}
	r, k := leaf, 0
	for fn, sn := p.Index, p.Count-1; sn > 0; fn, sn = fn>>1, sn>>1 {
		switch {
		case fn&1 == 1: // right child: the sibling is on the left
			r = nodeHash(&p.Path[k], &r)
			k++
		case fn < sn: // left child with a right sibling
			r = nodeHash(&r, &p.Path[k])
			k++
		}
	}
	return r, nil
}

// String returns the proof as the Licence-Signature-Proof header carries
// it: the index and the count in decimal and the sibling hashes
// concatenated in standard padded base64, separated by single spaces.
func (p Proof) String() string {
	raw := make([]byte, 0, len(p.Path)*sha256.Size)
	for i := range p.Path {
		raw = append(raw, p.Path[i][:]...)
	}
	return strconv.Itoa(p.Index) + " " + strconv.Itoa(p.Count) + " " + base64.StdEncoding.EncodeToString(raw)
}

// ParseProof decodes a Licence-Signature-Proof header strictly: exactly
// "INDEX COUNT PATH" with single spaces, decimals without sign or leading
// zero, 2 <= COUNT <= MaxBatch, INDEX < COUNT, and PATH the standard
// padded base64 of exactly the number of 32-byte hashes a leaf at INDEX
// of a tree of COUNT leaves has as siblings. Anything else is
// ErrBadProof.
func ParseProof(s string) (Proof, error) {
	// The longest valid header: "255 256 " and the base64 of 8 hashes.
	if len(s) > 8+base64.StdEncoding.EncodedLen(MaxProofLevels*sha256.Size) {
		return Proof{}, fmt.Errorf("%w: %d bytes, at most %d", ErrBadProof, len(s), 8+base64.StdEncoding.EncodedLen(MaxProofLevels*sha256.Size))
	}
	fields := strings.Split(s, " ")
	if len(fields) != 3 {
		return Proof{}, fmt.Errorf("%w: want \"INDEX COUNT PATH\" separated by single spaces", ErrBadProof)
	}
	index, ok1 := proofNumber(fields[0])
	count, ok2 := proofNumber(fields[1])
	if !ok1 || !ok2 {
		return Proof{}, fmt.Errorf("%w: index and count must be decimal numbers without sign or leading zero", ErrBadProof)
	}
	if count < 2 || count > MaxBatch || index >= count {
		return Proof{}, fmt.Errorf("%w: index %d of %d answers (want 2 to %d answers)", ErrBadProof, index, count, MaxBatch)
	}
	want := proofLen(index, count)
	if len(fields[2]) != base64.StdEncoding.EncodedLen(want*sha256.Size) {
		return Proof{}, fmt.Errorf("%w: the path must be %d hashes for index %d of %d answers", ErrBadProof, want, index, count)
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(fields[2])
	if err != nil || len(raw) != want*sha256.Size {
		return Proof{}, fmt.Errorf("%w: the path is not standard base64 of %d hashes", ErrBadProof, want)
	}
	p := Proof{Index: index, Count: count, Path: make([]Hash, want)}
	for i := range p.Path {
		copy(p.Path[i][:], raw[i*sha256.Size:])
	}
	return p, nil
}

// proofNumber parses a decimal of at most 3 digits without sign or
// leading zero.
func proofNumber(s string) (int, bool) {
	if s == "" || len(s) > 3 || s[0] == '0' && len(s) > 1 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

// VerifyProof checks sig as a batch signature by pub that covers r at
// the place p gives: the root p leads to from r's leaf, with p.Count,
// must be what pub signed. It returns ErrBadProof when p does not fit
// together and ErrBadResponseSignature when the signature does not
// verify.
func (r Response) VerifyProof(pub ed25519.PublicKey, sig []byte, p Proof) error {
	return verifyLeaf(pub, sig, r.LeafHash(), p)
}

// verifyLeaf is VerifyProof for a leaf hash.
func verifyLeaf(pub ed25519.PublicKey, sig []byte, leaf Hash, p Proof) error {
	root, err := p.Root(leaf)
	if err != nil {
		return err
	}
	if len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, BatchMessage(p.Count, root), sig) {
		return ErrBadResponseSignature
	}
	return nil
}

// VerifyAnswer checks the signature of an answer in either form: with an
// empty proof (no Licence-Signature-Proof header) sig must sign r alone
// (Verify); otherwise proof is the header's value, decoded strictly
// (ParseProof), and sig must be the batch signature it leads to
// (VerifyProof). Errors match ErrBadProof or ErrBadResponseSignature.
func (r Response) VerifyAnswer(pub ed25519.PublicKey, sig []byte, proof string) error {
	if proof == "" {
		return r.Verify(pub, sig)
	}
	p, err := ParseProof(proof)
	if err != nil {
		return err
	}
	return r.VerifyProof(pub, sig, p)
}
