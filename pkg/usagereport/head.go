package usagereport

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/airseal/airseal/pkg/seat"
)

// KindCheckpoint is the usage-log event kind of a signed head the server
// stored in its own log. Its Detail is Head.Detail().
const KindCheckpoint = "checkpoint"

// headDomain separates signed chain heads from every other signature.
const headDomain = "airseal usage head v1\x00"

// Head is a chain head signed by a server's response key: "at Time, the
// usage log ended with record Seq, whose hash is Hash". Seq 0 with the
// zero hash is the empty log (then Key and Signature are empty: nothing
// needs signing before the first record).
type Head struct {
	Seq  int64
	Hash [32]byte
	Time time.Time
	// Key is the response key's ID (seat.ResponseKeyID).
	Key       string
	Signature []byte
}

// Errors of heads.
var (
	// ErrBadHead: a head that is malformed or whose signature does not
	// verify.
	ErrBadHead = errors.New("bad signed head")
)

// Message returns the bytes a head's signature covers:
//
//	"airseal usage head v1" 0x00 || uint64be(Seq) || Hash ||
//	int64be(Time as Unix nanoseconds)
func (h *Head) Message() []byte {
	m := make([]byte, 0, len(headDomain)+8+32+8)
	m = append(m, headDomain...)
	m = binary.BigEndian.AppendUint64(m, uint64(h.Seq))
	m = append(m, h.Hash[:]...)
	m = binary.BigEndian.AppendUint64(m, uint64(h.Time.UnixNano()))
	return m
}

// SignHead returns the head (seq, hash) at t signed with key.
func SignHead(key ed25519.PrivateKey, seq int64, hash [32]byte, t time.Time) Head {
	h := Head{Seq: seq, Hash: hash, Time: time.Unix(0, t.UnixNano()).UTC()}
	h.Key = seat.ResponseKeyID(key.Public().(ed25519.PublicKey))
	h.Signature = ed25519.Sign(key, h.Message())
	return h
}

// Verify checks the head's signature with pub, whose ID must be h.Key.
func (h *Head) Verify(pub ed25519.PublicKey) error {
	if h.Seq == 0 && h.Hash == ([32]byte{}) && h.Key == "" && len(h.Signature) == 0 {
		return nil
	}
	if len(pub) != ed25519.PublicKeySize || seat.ResponseKeyID(pub) != h.Key {
		return fmt.Errorf("%w: head at seq %d is signed by key %s, not by %s", ErrBadHead, h.Seq, h.Key, seat.ResponseKeyID(pub))
	}
	if !ed25519.Verify(pub, h.Message(), h.Signature) {
		return fmt.Errorf("%w: the signature of the head at seq %d (key %s) does not verify: the head was changed or forged", ErrBadHead, h.Seq, h.Key)
	}
	return nil
}

// Detail encodes h as the Detail of a checkpoint event:
// "seq=N hash=HEX time=UNIXNANO key=KEYID sig=BASE64URL".
func (h *Head) Detail() string {
	return fmt.Sprintf("seq=%d hash=%s time=%d key=%s sig=%s", h.Seq, hex.EncodeToString(h.Hash[:]),
		h.Time.UnixNano(), h.Key, base64.RawURLEncoding.EncodeToString(h.Signature))
}

// ParseDetail decodes the Detail of a checkpoint event (Head.Detail).
func ParseDetail(s string) (Head, error) {
	var h Head
	f := strings.Fields(s)
	if len(f) != 5 {
		return h, fmt.Errorf("%w: checkpoint detail has %d fields, want seq, hash, time, key and sig", ErrBadHead, len(f))
	}
	want := []string{"seq=", "hash=", "time=", "key=", "sig="}
	for i, p := range want {
		if !strings.HasPrefix(f[i], p) {
			return h, fmt.Errorf("%w: checkpoint detail field %d does not start with %q", ErrBadHead, i+1, p)
		}
		f[i] = f[i][len(p):]
	}
	seq, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil || seq < 0 {
		return h, fmt.Errorf("%w: checkpoint seq %q", ErrBadHead, f[0])
	}
	if err := decodeHash(f[1], &h.Hash); err != nil {
		return h, err
	}
	ns, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil {
		return h, fmt.Errorf("%w: checkpoint time %q", ErrBadHead, f[2])
	}
	sig, err := base64.RawURLEncoding.DecodeString(f[4])
	if err != nil || len(sig) != ed25519.SignatureSize {
		return h, fmt.Errorf("%w: checkpoint signature is not 64 bytes of base64url", ErrBadHead)
	}
	h.Seq, h.Time, h.Key, h.Signature = seq, time.Unix(0, ns).UTC(), f[3], sig
	return h, nil
}

func decodeHash(s string, out *[32]byte) error {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		return fmt.Errorf("%w: hash %.70q is not 64 hex digits", ErrBadHead, s)
	}
	copy(out[:], b)
	return nil
}
