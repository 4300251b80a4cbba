package keys

import (
	"fmt"
	"sort"
)

// Keyring is a set of trusted public keys, looked up by key ID. Holding
// several keys at once lets a vendor rotate keys: licenses signed by the old
// key keep verifying while new ones are signed by the new key.
//
// A Keyring is not safe for concurrent modification; concurrent lookups are fine.
type Keyring struct {
	keys map[ID]*PublicKey
}

// NewKeyring returns a keyring holding the given keys.
func NewKeyring(ks ...*PublicKey) *Keyring {
	r := &Keyring{keys: make(map[ID]*PublicKey)}
	for _, k := range ks {
		r.Add(k)
	}
	return r
}

// Add trusts k. Adding a key twice is harmless.
func (r *Keyring) Add(k *PublicKey) {
	if r.keys == nil {
		r.keys = make(map[ID]*PublicKey)
	}
	r.keys[k.id] = k
}

// Get returns the key with the given ID.
func (r *Keyring) Get(id ID) (*PublicKey, bool) {
	if r == nil {
		return nil, false
	}
	k, ok := r.keys[id]
	return k, ok
}

// Len returns how many keys the keyring holds.
func (r *Keyring) Len() int {
	if r == nil {
		return 0
	}
	return len(r.keys)
}

// IDs returns the IDs of all keys, sorted.
func (r *Keyring) IDs() []ID {
	if r == nil {
		return nil
	}
	ids := make([]ID, 0, len(r.keys))
	for id := range r.keys {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// Verify checks that sig is a signature of msg by the key named id.
// It returns an error matching [ErrUnknownKey] or [ErrBadSignature].
func (r *Keyring) Verify(id ID, msg, sig []byte) error {
	k, ok := r.Get(id)
	if !ok {
		return fmt.Errorf("%w %s", ErrUnknownKey, id)
	}
	if !k.Verify(msg, sig) {
		return fmt.Errorf("%w (key %s)", ErrBadSignature, id)
	}
	return nil
}
