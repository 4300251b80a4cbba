// Package bundle packs, verifies and applies signed offline release bundles:
// one file (or several volumes) carrying everything an update needs into a
// closed network, applied atomically with the previous release kept for
// rollback.
//
// A bundle is a signed header followed by a zstd-compressed tar payload cut
// into chunks. The header holds an Ed25519 signature (key from pkg/keys, key
// ID in the clear) over a JSON [Manifest] naming the product, version,
// release date, the versions it may update from, every file's path, type,
// size, mode and SHA-256, the hooks, and the SHA-256 of every payload chunk.
// The format is specified in docs/spec/bundle-v1.md.
//
// # Security
//
// What is guaranteed:
//   - Nothing but the fixed 128-byte preamble is parsed before the signature
//     over the manifest has been checked against a trusted key; the manifest
//     is then decoded strictly and validated (local paths only, no
//     duplicates, no device files, no hard links, symlinks only to targets
//     inside the release, permission bits only, bounded sizes and counts).
//   - Every payload chunk is read once, hashed and compared with its signed
//     hash before the decompressor sees a byte of it, so unsigned data is
//     never decompressed and a damaged medium is reported by chunk, volume
//     and offset. The decompressor's window is bounded ([MaxWindow]) and the
//     decompressed total may not exceed the signed tar size (no zstd bombs).
//   - Each tar entry must match the next manifest entry exactly (path, type,
//     size, mode); each file's SHA-256 is computed on the bytes written and
//     compared before the release is switched in. The bundle file is never
//     re-read after a chunk was verified (no check-then-use race).
//   - Apply stages into DIR/releases/, fsyncs, and switches DIR/current with
//     one rename; a crash at any point leaves the old or the new release in
//     place, never a mix. Hooks from the signed manifest run only after the
//     whole payload was verified.
//   - Trusted keys are the caller's keyring plus the target's trust store,
//     DIR/trust/keys: keys introduced by applied bundles (trust_keys) and
//     the signer of a successful apply that the administrator trusted
//     explicitly ([ApplyOptions.Pin], bundle apply --pub). The policy
//     checks are repeated under the target's lock, so a concurrent apply
//     or rollback cannot turn a bundle into an unsigned downgrade.
//   - Refusals: unknown or revoked key, bad signature, other product, a
//     version not newer than the installed one (unless the manifest is a
//     signed downgrade), an installed version not in the signed from-list,
//     a release dated after the license's updates-until date.
//
// What is not guaranteed: protection from whoever can write to the target
// directory (they can add keys to DIR/trust or replace releases; keep it
// owned by the administrator). Freshness: an air-gapped site cannot learn
// that a newer release exists, so an attacker holding an old, validly
// signed bundle can withhold updates (but cannot downgrade). Key rotation
// relies on the vendor shipping the new key inside a bundle signed by the
// old one before using it; revocation is monotonic per target directory.
package bundle
