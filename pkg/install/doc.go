// Package install installs verified release bundles (pkg/bundle) into a
// target directory on the customer's machine, atomically, with the
// previous release kept for rollback, and reports what is installed.
//
// A [Target] is a target directory opened once: under its lock, its trust
// store and the signed header of its current release are read once, and
// every later step (verifying a bundle with the target's trust, the
// policy, staging, switching, recording trust changes) works from what was
// read. [Apply] is the one-call form; cmd/bundle uses the steps so that
// the progress bar's total comes from the bundle verified for the apply.
// The layout and the order of the steps are specified in
// docs/spec/bundle-v1.md ("Applying").
//
// # Security
//
// What is guaranteed:
//   - Nothing of a bundle is acted on before it is verified: the header
//     with the target's trust, every chunk before decompression, every
//     file's hash before the release is switched in; hooks run only after
//     the whole payload was verified.
//   - Apply stages into DIR/releases/, fsyncs, and switches DIR/current with
//     one rename; a crash at any point leaves the old or the new release
//     current and verifiable, never a mix.
//   - Key rotation takes effect in that same rename: the trust of a target
//     is its given keys, DIR/trust and the current release's own signed
//     trust_keys and revoked_keys, recorded in DIR/trust after the switch
//     (and by any later locked open), so a crash can neither brick the
//     target nor let a rollback undo a revocation. Only the signer pinned
//     by the administrator (--pub) is recorded before the switch.
//   - Trusted keys are the caller's keyring plus the target's trust store,
//     DIR/trust/keys: keys introduced by applied bundles (trust_keys) and
//     the signer of a successful apply that the administrator trusted
//     explicitly ([ApplyOptions.Pin], bundle apply --pub). Everything is
//     checked under the target's lock, so a concurrent apply or rollback
//     cannot turn a bundle into an unsigned downgrade.
//   - Refusals: unknown or revoked key, bad signature, other product, a
//     version not newer than the installed one (unless the manifest is a
//     signed downgrade), an installed version not in the signed from-list,
//     a release dated after the license's updates-until date.
//   - The target's files are read bounded ([HeaderLimit], [PublicKeyLimit],
//     [ListLimit]); anything but a regular file is refused before it is
//     opened.
//
// What is not guaranteed: protection from whoever can write to the target
// directory (they can add keys to DIR/trust or replace releases; keep it
// owned by the administrator). Freshness: an attacker holding an old,
// validly signed bundle can withhold updates (but cannot downgrade). Key
// rotation relies on the vendor shipping the new key inside a bundle signed
// by the old one before using it; revocation is monotonic per target.
package install
