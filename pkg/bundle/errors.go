package bundle

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error returned by this package that is a refusal
// matches exactly one of them with errors.Is; cmd/bundle maps each to a
// documented exit code.
var (
	// ErrMalformed: the preamble or manifest does not follow the format
	// (wrong magic, bad lengths, non-zero padding, invalid JSON).
	ErrMalformed = errors.New("not a valid airseal bundle")
	// ErrBadSignature: the manifest signature does not verify.
	ErrBadSignature = errors.New("bad signature")
	// ErrUnknownKey: the signing key is not trusted (or was revoked).
	ErrUnknownKey = errors.New("signed by an untrusted key")
	// ErrDamaged: a payload chunk, the payload length or a file's content
	// does not match the signed manifest.
	ErrDamaged = errors.New("bundle is damaged")
	// ErrUnsafe: the manifest or payload would write outside the target,
	// create a device, hard link or escaping symlink, or exceeds a limit.
	ErrUnsafe = errors.New("unsafe bundle content")
	// ErrVolume: a volume is missing, duplicated or belongs to another bundle.
	ErrVolume = errors.New("bundle volume problem")
	// ErrWrongProduct: the bundle is for a different product.
	ErrWrongProduct = errors.New("bundle is for a different product")
	// ErrVersion: the version is not newer than the installed one, or the
	// installed version is not one the bundle may update from.
	ErrVersion = errors.New("version refused")
	// ErrSubscription: the release date is after the license's updates-until.
	ErrSubscription = errors.New("update subscription ended")
	// ErrHook: a hook from the manifest failed.
	ErrHook = errors.New("hook failed")
	// ErrNotInstalled: no release is installed in the target (or nothing to
	// roll back to).
	ErrNotInstalled = errors.New("no release installed")
	// ErrNoPrevious: a release is installed, but there is no previous
	// release to roll back to.
	ErrNoPrevious = errors.New("nothing to roll back to")
	// ErrNoSpace: the target file system lacks the space the manifest needs.
	ErrNoSpace = errors.New("not enough free space")
	// ErrBusy: another apply or rollback holds the target's lock.
	ErrBusy = errors.New("target is busy")
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
