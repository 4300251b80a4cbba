package bundle

import (
	"errors"
	"fmt"
)

// Sentinel errors of the format. Every error returned by this package that
// is a refusal matches one of them with errors.Is; cmd/bundle maps each to a
// documented exit code. Refusals of installing into a target (version,
// product, subscription, hooks, space, lock) are in pkg/install.
var (
	// ErrMalformed: the preamble or manifest does not follow the format
	// (wrong magic, bad lengths, non-zero padding, invalid JSON).
	ErrMalformed = errors.New("not a valid airseal bundle")
	// ErrBadSignature: the manifest signature does not verify.
	ErrBadSignature = errors.New("bad signature")
	// ErrUnknownKey: the signing key is not trusted (or was revoked).
	ErrUnknownKey = errors.New("signed by an untrusted key")
	// ErrRevokedKey: the signing key was revoked for the target by a
	// bundle applied there. Errors matching it match ErrUnknownKey too.
	ErrRevokedKey = errors.New("key revoked")
	// ErrDamaged: a payload chunk, the payload length or a file's content
	// does not match the signed manifest.
	ErrDamaged = errors.New("bundle is damaged")
	// ErrUnsafe: the manifest or payload would write outside the target,
	// create a device, hard link or escaping symlink, or exceeds a limit.
	ErrUnsafe = errors.New("unsafe bundle content")
	// ErrVolume: a volume is missing, duplicated or belongs to another bundle.
	ErrVolume = errors.New("bundle volume problem")
)

// ChunkError reports a payload chunk whose SHA-256 differs from the signed
// one (or that is missing because the file is truncated).
type ChunkError struct {
	Index  int    // 0-based chunk index
	Count  int    // total chunks in the bundle
	Volume string // file name of the volume holding the chunk
	Offset int64  // byte offset of the chunk in that volume
	Reason string // "SHA-256 mismatch", "truncated", ...
}

// Error says which chunk of how many is damaged, where, and why.
func (e *ChunkError) Error() string {
	return fmt.Sprintf("chunk %d of %d (offset %d in %s) is damaged: %s", e.Index+1, e.Count, e.Offset, e.Volume, e.Reason)
}

// Unwrap makes a ChunkError match ErrDamaged.
func (e *ChunkError) Unwrap() error { return ErrDamaged }
