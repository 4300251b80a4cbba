package token

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go-jose/go-jose/v4"

	"github.com/airseal/airseal/pkg/keys"
)

// ErrJWKS means a JWK set cannot be used as a set of issuer keys.
var ErrJWKS = errors.New("invalid JWKS")

// MarshalJWKS returns the public keys of ring as an RFC 7517 JWK set: OKP
// Ed25519 keys with kid, alg EdDSA and use sig. It never contains private
// members.
func MarshalJWKS(ring *keys.Keyring) ([]byte, error) {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for _, id := range ring.IDs() {
		k, _ := ring.Get(id)
		set.Keys = append(set.Keys, jose.JSONWebKey{
			Key:       ed25519.PublicKey(k.Bytes()),
			KeyID:     string(id),
			Algorithm: Algorithm,
			Use:       "sig",
		})
	}
	for _, k := range set.Keys {
		if !k.IsPublic() {
			return nil, errors.New("refusing to export a private key in a JWKS")
		}
	}
	return json.MarshalIndent(set, "", "  ")
}

// ParseJWKS reads a JWK set of Ed25519 public keys. Every key must be OKP
// Ed25519, public, and have the kid that airseal derives from the key, so a
// key cannot be given another key's name. Keys with use other than sig are refused.
func ParseJWKS(data []byte) (*keys.Keyring, error) {
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrJWKS, err)
	}
	if len(set.Keys) == 0 {
		return nil, fmt.Errorf("%w: no keys", ErrJWKS)
	}
	ring := keys.NewKeyring()
	for i, k := range set.Keys {
		pub, ok := k.Key.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("%w: key %d (kid %q) is not a public Ed25519 (OKP) key", ErrJWKS, i, k.KeyID)
		}
		if k.Use != "" && k.Use != "sig" {
			return nil, fmt.Errorf("%w: key %d (kid %q) has use %q, want sig", ErrJWKS, i, k.KeyID, k.Use)
		}
		if k.Algorithm != "" && k.Algorithm != Algorithm {
			return nil, fmt.Errorf("%w: key %d (kid %q) has alg %q, want %s", ErrJWKS, i, k.KeyID, k.Algorithm, Algorithm)
		}
		pk, err := keys.NewPublicKey(pub)
		if err != nil {
			return nil, fmt.Errorf("%w: key %d: %v", ErrJWKS, i, err)
		}
		if string(pk.ID()) != k.KeyID {
			return nil, fmt.Errorf("%w: key %d has kid %q but its airseal key ID is %s", ErrJWKS, i, k.KeyID, pk.ID())
		}
		ring.Add(pk)
	}
	return ring, nil
}
