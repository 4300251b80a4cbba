// Package bundle is the format of signed offline release bundles: one file
// (or several volumes) carrying everything an update needs into a closed
// network. It packs a release tree into a bundle, and opens and verifies
// one: header, manifest, every chunk and every file. Installing a verified
// bundle into a target directory (the I/O on the customer's machine: lock,
// trust store, staging, switch, rollback) is package
// github.com/airseal/airseal/pkg/install, which calls this one.
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
//   - File names and link targets follow the one signed-text rule
//     (internal/safetext): no control or bidirectional formatting
//     characters, valid UTF-8, refused by [Pack] and by the reader, so
//     printing a manifest cannot repaint a terminal.
//   - Refusals: unknown or revoked key (the caller passes the revoked IDs),
//     bad signature, a manifest revoking its own signing key, and every
//     format rule of docs/spec/bundle-v1.md.
//
// What is not guaranteed: freshness (an air-gapped site cannot learn that
// a newer release exists) and the policy of installing (versions,
// products, licenses), which is pkg/install's.
package bundle
