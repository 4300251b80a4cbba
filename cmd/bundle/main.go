// Command bundle packs, verifies, inspects and applies signed offline
// release bundles. See docs/spec/bundle-v1.md and package
// github.com/airseal/airseal/pkg/bundle (the format) and
// github.com/airseal/airseal/pkg/install (installing into a target).
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/airseal/airseal/internal/cli"
	"github.com/airseal/airseal/internal/fileio"
	embedded "github.com/airseal/airseal/keys"
	"github.com/airseal/airseal/pkg/bundle"
	"github.com/airseal/airseal/pkg/install"
	"github.com/airseal/airseal/pkg/keys"
	"github.com/airseal/airseal/pkg/license"
)

func main() { os.Exit(run()) }

func run() int { return cli.Main(newRoot()) }

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "bundle",
		Short: "Signed offline release bundles: pack, verify, inspect, apply, roll back",
		Long: `bundle carries a release into a closed network as one signed file (or several
volumes for small media) and applies it atomically.

A bundle is a signed manifest (product, version, release date, every file's
path, mode, size and SHA-256, hooks, and the SHA-256 of every payload chunk)
followed by a zstd-compressed tar payload. Every chunk is checked against the
signed manifest before it is decompressed. apply unpacks into
TARGET/releases/VERSION and switches TARGET/current with one rename; the
previous release is kept for rollback.

Trusted keys: the keys compiled into this binary, plus --pub files, plus the
target's trust store DIR/trust/keys/ (keys added by applied bundles, and the
key of a successful 'apply --pub' that was trusted only through --pub).

Exit codes follow the one airseal table below (the same in every tool).`,
		Example: `  bundle pack --key vendor.key --product "Acme Writer" --version 2.1.0 --from-dir build/ -o acme-writer-2.1.0.bundle
  bundle verify acme-writer-2.1.0.bundle
  bundle apply --target /opt/acme-writer acme-writer-2.1.0.bundle
  bundle status --target /opt/acme-writer
  bundle rollback --target /opt/acme-writer`,
	}
	root.AddCommand(newPack(), newVerify(), newInspect(), newApply(), newStatus(), newRollback())
	return root
}

// trust returns the embedded keys plus --pub files.
func trust(cmd *cobra.Command, pubs []string) (*keys.Keyring, error) {
	ring, err := embedded.Keyring()
	if err != nil {
		return nil, err
	}
	given, err := loadPubs(cmd, "--pub", pubs)
	if err != nil {
		return nil, err
	}
	for _, id := range given.IDs() {
		k, _ := given.Get(id)
		ring.Add(k)
	}
	return ring, nil
}

// progress returns a progress callback drawing a bar on a terminal stderr,
// and a function to finish it; both are no-ops otherwise.
func progress(quiet bool, total int64, what string, totalFiles int) (func(files int, done int64), func()) {
	if quiet || !term.IsTerminal(int(os.Stderr.Fd())) {
		return nil, func() {}
	}
	bar := progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(os.Stderr), progressbar.OptionShowBytes(true), progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(), progressbar.OptionSetWidth(30), progressbar.OptionClearOnFinish())
	return func(files int, done int64) {
			if files > 0 {
				bar.Describe(fmt.Sprintf("%s: %d/%d files", what, files, totalFiles))
			}
			bar.Set64(done)
		}, func() {
			bar.Finish()
		}
}

// parseSize reads 4096, 700M, 4G, 1.5GiB (binary units).
func parseSize(s string) (int64, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, x := range []struct {
		suf string
		m   int64
	}{{"TIB", 1 << 40}, {"GIB", 1 << 30}, {"MIB", 1 << 20}, {"KIB", 1 << 10}, {"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(u, x.suf) {
			u, mult = strings.TrimSuffix(u, x.suf), x.m
			break
		}
	}
	f, err := strconv.ParseFloat(u, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q: want a number with an optional K, M, G or T suffix, like 700M", s)
	}
	if f < 1 || int64(f*float64(mult)) < 1 {
		return 0, fmt.Errorf("size %q is below the minimum of 1 byte; a volume must also hold its header and one chunk, so use at least 1M (e.g. 700M, or fat32)", s)
	}
	return int64(f * float64(mult)), nil
}

func parseDate(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339, time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("date %q: want YYYY-MM-DD or RFC 3339 (2026-03-01T12:00:00Z)", s)
}

func newPack() *cobra.Command {
	var o struct {
		key, passFile, product, version, date, fromDir, out, split   string
		allowEmpty, force                                            bool
		from, licenses, trustKeys, revokeKeys, revokeLicenses, hooks []string
		downgrade, json                                              bool
	}
	c := &cobra.Command{
		Use:   "pack --key NAME.key --product P --version V --from-dir DIR -o FILE",
		Short: "Pack a release directory into a signed bundle",
		Long: `pack reads DIR (regular files, directories and symlinks that stay inside
DIR) and writes a signed bundle. Memory use does not depend on the size of the
release. The output is reproducible: the same tree, flags and key give the
same bytes. --release-date defaults to now; set it (or SOURCE_DATE_EPOCH) for
reproducible bundles.

--split SIZE writes volumes FILE, FILE.002, FILE.003, ... of at most SIZE
bytes; each can be verified alone. --split fat32 uses 4095M, just under the
FAT32 file size limit.

The key's passphrase comes from --passphrase-file, AIRSEAL_PASSPHRASE or a
terminal prompt.`,
		Example: `  bundle pack --key vendor.key --product acme --version 2.1.0 \
      --release-date 2026-12-01 --from-version 2.0.0 --from-dir build/ -o acme-2.1.0.bundle
  bundle pack --key vendor.key --product acme --version 2.1.0 --split 700M --from-dir build/ -o acme.bundle
  bundle pack ... --hook post-switch:bin/migrate:600 --include-license customer.lic`,
		Args: cli.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.key == "" || o.product == "" || o.version == "" || o.fromDir == "" || o.out == "" {
				return cli.Usage("pack needs --key, --product, --version, --from-dir and -o")
			}
			if !versionRule.MatchString(o.version) {
				return cli.Usage("--version %q: want a release version: numbers separated by dots with an optional -suffix of letters, digits and dots (1.2.3, 1.2.3-rc1)", o.version)
			}
			if err := checkFromDir(o.fromDir, o.allowEmpty); err != nil {
				return err
			}
			if o.out == "-" {
				return cli.Usage("-o -: a bundle cannot be written to standard output (its signed header is written last, and --split writes several files); give -o FILE")
			}
			if err := checkOutput(o.out, o.force); err != nil {
				return err
			}
			po := bundle.PackOptions{Product: o.product, Version: o.version, FromVersions: o.from, Downgrade: o.downgrade,
				Dir: o.fromDir, Output: o.out, RevokedLicenses: o.revokeLicenses}
			switch {
			case o.date != "":
				t, err := parseDate(o.date)
				if err != nil {
					return cli.Usage("--release-date: %v", err)
				}
				po.ReleaseDate = t
			case os.Getenv("SOURCE_DATE_EPOCH") != "":
				n, err := strconv.ParseInt(os.Getenv("SOURCE_DATE_EPOCH"), 10, 64)
				if err != nil {
					return cli.Usage("SOURCE_DATE_EPOCH %q is not a number of seconds", os.Getenv("SOURCE_DATE_EPOCH"))
				}
				po.ReleaseDate = time.Unix(n, 0).UTC()
			}
			if o.split != "" {
				if strings.EqualFold(o.split, "fat32") {
					o.split = strconv.Itoa(bundle.DefaultSplit)
				}
				n, err := parseSize(o.split)
				if err != nil {
					return cli.Usage("--split: %v", err)
				}
				po.Split = n
			}
			for _, h := range o.hooks {
				parts := strings.Split(h, ":")
				hk := bundle.Hook{Timeout: 300}
				if len(parts) < 2 || len(parts) > 3 {
					return cli.Usage("--hook %q: want PHASE:PATH[:TIMEOUT_SECONDS], PHASE is pre-switch or post-switch", h)
				}
				hk.Phase, hk.Path = parts[0], parts[1]
				if len(parts) == 3 {
					n, err := strconv.Atoi(parts[2])
					if err != nil {
						return cli.Usage("--hook %q: timeout %q is not a number of seconds", h, parts[2])
					}
					hk.Timeout = n
				}
				po.Hooks = append(po.Hooks, hk)
			}
			for _, l := range o.licenses {
				data, err := readInput(cmd, "--include-license", l, fileio.LimitLicense, "license")
				if err != nil {
					return err
				}
				if _, err := license.Decode(data); err != nil {
					return cli.Fail(cli.ExitError, fmt.Errorf("--include-license %s: not an airseal license: %w", l, err), "give a license file issued with the license tool")
				}
				name := l[strings.LastIndex(l, "/")+1:]
				po.Licenses = append(po.Licenses, bundle.License{Name: name, Data: string(data)})
			}
			tk, err := loadPubs(cmd, "--trust-key", o.trustKeys)
			if err != nil {
				return err
			}
			for _, id := range tk.IDs() {
				k, _ := tk.Get(id)
				po.TrustKeys = append(po.TrustKeys, k)
			}
			for _, s := range o.revokeKeys {
				id, err := keys.ParseID(s)
				if err != nil {
					return cli.Usage("--revoke-key: %v", err)
				}
				po.RevokedKeys = append(po.RevokedKeys, id)
			}
			k, err := loadPrivate(cmd, o.key, o.passFile)
			if err != nil {
				return err
			}
			po.Key = k
			res, err := bundle.Pack(po)
			if errors.Is(err, bundle.ErrMalformed) || errors.Is(err, bundle.ErrUnsafe) {
				// The bundle being made would be refused: the flags or the
				// release directory are at fault, not a bundle file.
				return cli.Fail(cli.ExitError, err, "fix the flag or the file of --from-dir named above and pack again")
			}
			if err != nil {
				return fail(err)
			}
			if o.json {
				return cli.JSON(cmd.OutOrStdout(), map[string]any{"volumes": res.Volumes, "key_id": res.KeyID,
					"product": res.Manifest.Product, "version": res.Manifest.Version, "release_date": res.Manifest.ReleaseDate,
					"files": len(res.Manifest.Files), "tar_size": res.Manifest.Payload.TarSize, "size": res.Manifest.Payload.Size,
					"chunks": len(res.Manifest.Payload.Chunks)})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "packed %s %s: %d files, %d bytes -> %d bytes in %d chunks, signed by %s\n",
				res.Manifest.Product, res.Manifest.Version, len(res.Manifest.Files), res.Manifest.Payload.TarSize,
				res.Manifest.Payload.Size, len(res.Manifest.Payload.Chunks), res.KeyID)
			for _, v := range res.Volumes {
				fmt.Fprintln(cmd.OutOrStdout(), v)
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&o.key, "key", "", "signing key `NAME.key`")
	f.StringVar(&o.passFile, "passphrase-file", "", "read the key's passphrase from `FILE`")
	f.StringVar(&o.product, "product", "", "product `NAME`, spelled as in its licenses (\"Acme Writer\")")
	f.StringVar(&o.version, "version", "", "release `VERSION` (1.2.3, 1.2.3-rc1)")
	f.StringVar(&o.date, "release-date", "", "release `DATE` (YYYY-MM-DD or RFC 3339; default SOURCE_DATE_EPOCH or now)")
	f.StringArrayVar(&o.from, "from-version", nil, "only update from `VERSION` (repeatable; default any older)")
	f.BoolVar(&o.downgrade, "downgrade", false, "sign the bundle as an allowed downgrade")
	f.StringArrayVar(&o.licenses, "include-license", nil, "carry license `FILE` (repeatable)")
	f.StringArrayVar(&o.trustKeys, "trust-key", nil, "introduce public key `NAME.pub` to targets (key rotation; repeatable)")
	f.StringArrayVar(&o.revokeKeys, "revoke-key", nil, "revoke key `ID` on targets (repeatable)")
	f.StringArrayVar(&o.revokeLicenses, "revoke-license", nil, "revoke license `SERIAL` on targets (repeatable)")
	f.StringArrayVar(&o.hooks, "hook", nil, "run `PHASE:PATH[:SECONDS]` on apply (pre-switch or post-switch; repeatable)")
	f.StringVar(&o.split, "split", "", "write volumes of at most `SIZE` (700M, 4G, or fat32 = 4095M)")
	f.StringVar(&o.fromDir, "from-dir", "", "release `DIR` to pack")
	f.BoolVar(&o.allowEmpty, "allow-empty", false, "pack an empty --from-dir (a bundle of no files)")
	f.BoolVar(&o.force, "force", false, "replace an existing -o FILE")
	f.StringVarP(&o.out, "output", "o", "", "bundle `FILE` (first volume)")
	f.BoolVar(&o.json, "json", false, "print the result as JSON")
	return c
}

func newVerify() *cobra.Command {
	var pubs []string
	var target string
	var chunksOnly, jsonOut, partial bool
	c := &cobra.Command{
		Use:   "verify [--pub NAME.pub]... [--partial] FILE [FILE.002 ...]",
		Short: "Check a bundle's signature, every chunk and every file",
		Long: `verify checks the signature, every payload chunk, and (when all volumes are
present) decompresses the payload and checks every file's SHA-256 against the
signed manifest. Volumes may be given in any order; given only the first
volume, the others are looked for next to it. A missing volume fails with
exit 22, unless --partial is given: then the volumes present are checked
(their chunks, not the files) and the missing ones listed, so that each
volume can be checked on its own as it is copied.`,
		Example: `  bundle verify acme-2.1.0.bundle
  bundle verify --partial acme.bundle.002   # one volume alone
  bundle verify --chunks-only /media/usb/acme.bundle`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkVolumes(args); err != nil {
				return err
			}
			ring, err := trust(cmd, pubs)
			if err != nil {
				return err
			}
			revoked := map[keys.ID]bool{}
			if target != "" {
				if ring, revoked, err = install.Trust(target, ring); err != nil {
					return err
				}
			}
			b, err := bundle.Open(args, ring, revoked)
			if err != nil {
				return fail(err)
			}
			defer b.Close()
			if err := b.MissingError(); err != nil && !partial {
				return cli.Fail(cli.ExitIncomplete, err, "give every volume of the bundle (FILE, FILE.002, ...), or add --partial to check only the volumes given")
			}
			prog, done := progress(jsonOut, b.Manifest.Payload.TarSize, "verify", len(b.Manifest.Files))
			opts := bundle.VerifyOptions{ChunksOnly: chunksOnly}
			if prog != nil {
				if chunksOnly || len(b.Missing()) > 0 {
					prog, done = progress(jsonOut, b.Manifest.Payload.Size, "verify", len(b.Manifest.Files))
				}
				opts.Progress = func(n int64) { prog(0, n) }
			}
			res, err := b.Verify(opts)
			done()
			if err != nil {
				return fail(err)
			}
			if jsonOut {
				return cli.JSON(cmd.OutOrStdout(), res)
			}
			w := cmd.OutOrStdout()
			switch {
			case res.Complete && res.FilesChecked > 0:
				fmt.Fprintf(w, "OK %s %s (bundle %s, key %s): signature, %d chunks and %d files verified\n",
					res.Product, res.Version, res.BundleID, res.KeyID, res.ChunksChecked, res.FilesChecked)
			default:
				fmt.Fprintf(w, "OK %s %s (bundle %s, key %s): signature and %d of %d chunks verified\n",
					res.Product, res.Version, res.BundleID, res.KeyID, res.ChunksChecked, res.ChunksTotal)
				for _, v := range res.Volumes {
					state := "not given"
					if v.Present {
						state = "OK (" + v.Name + ")"
					}
					fmt.Fprintf(w, "  volume %d of %d, chunks %d-%d: %s\n", v.Index, len(res.Volumes), v.FirstChunk, v.FirstChunk+v.Chunks-1, state)
				}
				if !res.Complete {
					fmt.Fprintln(w, "  files not checked: give all volumes to check every file")
				}
			}
			return nil
		},
	}
	c.Flags().StringArrayVar(&pubs, "pub", nil, "also trust public key `NAME.pub` (repeatable)")
	c.Flags().StringVar(&target, "target", "", "also trust keys added to (and honour revocations in) target `DIR`")
	c.Flags().BoolVar(&chunksOnly, "chunks-only", false, "check the signature and every stored byte, without decompressing")
	c.Flags().BoolVar(&partial, "partial", false, "check only the volumes given; a missing volume is not an error")
	c.Flags().BoolVar(&jsonOut, "json", false, "print the result as JSON")
	return c
}

func newInspect() *cobra.Command {
	var pubs []string
	var jsonOut bool
	c := &cobra.Command{
		Use:   "inspect [--json] FILE",
		Short: "Show a bundle's manifest and whether its signature verifies",
		Long: `inspect prints the manifest of any volume. The signature is checked against
the trusted keys and the result shown; the manifest is shown even when it
does not verify, so treat it as unverified in that case (exit code as for
verify, in text and --json). Every string from the bundle is printed with
control and bidirectional formatting characters escaped, and a manifest
whose file names or link targets hold such characters is refused (21).`,
		Example: `  bundle inspect acme-2.1.0.bundle
  bundle inspect --json acme-2.1.0.bundle | jq .manifest.files`,
		Args: cli.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ring, err := trust(cmd, pubs)
			if err != nil {
				return err
			}
			if err := checkVolumes(args); err != nil {
				return err
			}
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			h, err := bundle.ReadHeader(f)
			if err != nil {
				return fail(err)
			}
			sigState := "verified"
			m, verr := h.Verify(ring, nil)
			if verr != nil {
				sigState = "NOT VERIFIED: " + verr.Error()
				if m, err = bundle.ParseManifest(h.Manifest); err != nil {
					return fail(fmt.Errorf("%w (and %v)", err, verr))
				}
			}
			// Every string of an unverified header is untrusted text.
			m = cleanManifest(m)
			sigState = show(sigState)
			if jsonOut {
				out := map[string]any{"key_id": h.KeyID, "signature": sigState,
					"volume": h.VolumeIndex + 1, "volumes": h.VolumeCount, "manifest": m}
				if verr == nil {
					return cli.JSON(cmd.OutOrStdout(), out)
				}
				// One verdict whatever the format: the same exit code as
				// the text form, reported inside this one JSON object.
				var ce *cli.Error
				errors.As(fail(verr), &ce)
				out["status"], out["exit_code"], out["error"], out["hint"] = cli.StatusOf(ce.Code), ce.Code, ce.Error(), ce.Hint
				if err := cli.JSON(cmd.OutOrStdout(), out); err != nil {
					return err
				}
				return cli.Reported(ce.Code, ce.Err, ce.Hint)
			}
			w := cmd.OutOrStdout()
			var size int64
			for _, fl := range m.Files {
				size += fl.Size
			}
			fmt.Fprintf(w, "product:      %s\nversion:      %s\nrelease date: %s\n", m.Product, m.Version, m.ReleaseDate.Format(time.RFC3339))
			if len(m.FromVersions) > 0 {
				fmt.Fprintf(w, "updates from: %s\n", strings.Join(m.FromVersions, ", "))
			}
			if m.Downgrade {
				fmt.Fprintln(w, "downgrade:    allowed (signed)")
			}
			fmt.Fprintf(w, "key:          %s\nsignature:    %s\nvolume:       %d of %d\n", h.KeyID, sigState, h.VolumeIndex+1, h.VolumeCount)
			fmt.Fprintf(w, "payload:      %d files, %d bytes; %d bytes compressed in %d chunks of %d\n",
				len(m.Files), size, m.Payload.Size, len(m.Payload.Chunks), m.Payload.ChunkSize)
			for _, hk := range m.Hooks {
				fmt.Fprintf(w, "hook:         %s %s (timeout %d s)\n", hk.Phase, hk.Path, hk.Timeout)
			}
			for _, l := range m.Licenses {
				fmt.Fprintf(w, "license:      %s (%d bytes)\n", l.Name, len(l.Data))
			}
			for _, k := range m.TrustKeys {
				fmt.Fprintf(w, "trusts key:   %s\n", strings.Fields(k)[1])
			}
			for _, k := range m.RevokedKeys {
				fmt.Fprintf(w, "revokes key:  %s\n", k)
			}
			for _, s := range m.RevokedLicenses {
				fmt.Fprintf(w, "revokes license: %s\n", s)
			}
			fmt.Fprintln(w, "files:")
			for _, fl := range m.Files {
				switch fl.Type {
				case bundle.TypeFile:
					fmt.Fprintf(w, "  %04o %12d %s  %s\n", uint32(fl.Mode), fl.Size, fl.SHA256[:16], fl.Path)
				case bundle.TypeDir:
					fmt.Fprintf(w, "  %04o %12s %16s  %s/\n", uint32(fl.Mode), "", "", fl.Path)
				case bundle.TypeSymlink:
					fmt.Fprintf(w, "  link %12s %16s  %s -> %s\n", "", "", fl.Path, fl.Target)
				}
			}
			if verr != nil {
				return fail(verr)
			}
			return nil
		},
	}
	c.Flags().StringArrayVar(&pubs, "pub", nil, "also trust public key `NAME.pub` (repeatable)")
	c.Flags().BoolVar(&jsonOut, "json", false, "print the manifest as JSON")
	return c
}

func newApply() *cobra.Command {
	var pubs []string
	var target string
	var lf licenseFlags
	var plan, noHooks, jsonOut bool
	c := &cobra.Command{
		Use:   "apply [--pub NAME.pub]... --target DIR [--license FILE] [--plan] FILE [FILE.002 ...]",
		Short: "Verify a bundle and install it atomically into DIR",
		Long: `apply verifies the signature, refuses what the installed release, the license
and the format do not allow, unpacks into DIR/releases/VERSION checking every
chunk before decompression and every file after, runs the pre-switch hooks,
then switches DIR/current with one rename. The previous release stays for
'bundle rollback'. Killed at any moment, DIR holds the old or the new release.

When the bundle's signing key is trusted only through --pub, a successful
apply records it in DIR/trust/keys/ID.pub (and says so): you trusted it for
this target, so status, rollback and later applies there need no --pub.

apply opens DIR once under its lock, reads its trust store and installed
release once, and verifies the bundle once. A bundle that rotates keys
(trust_keys, revoked_keys) takes effect in the same rename that makes its
release current, so an apply killed at any point leaves a release that
status, rollback, a new apply and 'verify --installed' accept.

--plan prints the changes, hooks and space needed and touches nothing.
--license FILE runs the license check of 'verify' (signature, product, the
installed release, machine binding, clock, --revocations with the revocation
sequence floor, kept in --state, by default verify's state file) and
refuses releases dated after the license's updates-until.
--no-hooks skips the bundle's hooks (site policy). A progress bar is drawn
when stderr is a terminal.`,
		Example: `  bundle apply --target /opt/acme /media/usb/acme-2.1.0.bundle
  bundle apply --target /opt/acme --license /etc/acme/license.lic --plan acme-2.1.0.bundle
  bundle apply --target /opt/acme --license acme.lic --revocations revoked.list acme-2.1.0.bundle`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if target == "" {
				return cli.Usage("apply needs --target DIR")
			}
			if lf.license == "" && (lf.revocations != "" || lf.state != "") {
				return cli.Usage("--revocations and --state are inputs of the --license check: give --license FILE too")
			}
			if err := checkVolumes(args); err != nil {
				return err
			}
			builtin, err := embedded.Keyring()
			if err != nil {
				return err
			}
			pin, err := loadPubs(cmd, "--pub", pubs)
			if err != nil {
				return err
			}
			// One pass: the target is opened once (under its lock unless
			// --plan), the bundle verified once with its trust, and the
			// progress bar's total taken from that verified manifest.
			tg, err := install.OpenTarget(target, install.TargetOptions{Keyring: builtin, Pin: pin, Lock: !plan})
			if err != nil {
				return fail(err)
			}
			defer tg.Close()
			b, err := tg.Open(args)
			if err != nil {
				return fail(err)
			}
			defer b.Close()
			opts := install.ApplyOptions{Plan: plan, NoHooks: noHooks, HookOutput: cmd.ErrOrStderr()}
			if lf.license != "" {
				if opts.License, err = checkLicense(cmd, lf, tg, b.Manifest, plan); err != nil {
					return err
				}
			}
			var finish func()
			if !plan {
				var prog func(int, int64)
				prog, finish = progress(jsonOut, b.Manifest.Payload.TarSize, "apply", len(b.Manifest.Files))
				opts.Progress = prog
			}
			res, err := tg.Apply(b, opts)
			if finish != nil {
				finish()
			}
			if err != nil {
				return fail(err)
			}
			w := cmd.OutOrStdout()
			if jsonOut {
				if err := cli.JSON(w, res); err != nil {
					return err
				}
			} else if plan {
				printPlan(w, res.Plan, target)
			} else {
				from := "nothing"
				if res.Plan.From != "" {
					from = res.Plan.From
				}
				fmt.Fprintf(w, "applied %s %s to %s (was %s); %s/current -> %s\n", res.Plan.Product, res.Plan.To, target, from, target, res.Release)
				if res.PinnedKey != "" {
					fmt.Fprintf(w, "trusted key %s (from --pub) for %s: recorded in %s; status, rollback and later applies need no --pub for it\n",
						res.PinnedKey, target, filepath.Join(target, "trust", "keys", string(res.PinnedKey)+".pub"))
				}
			}
			if res.PostHookErr != nil {
				return cli.Fail(cli.ExitHookFailed, res.PostHookErr, "the new release is current; fix the problem or run 'bundle rollback --target "+target+"'")
			}
			return nil
		},
	}
	f := c.Flags()
	f.StringArrayVar(&pubs, "pub", nil, "also trust public key `NAME.pub` (repeatable)")
	f.StringVar(&target, "target", "", "install into `DIR` (DIR/current, DIR/releases/)")
	f.StringVar(&lf.license, "license", "", "check license `FILE` (or typed code ASL1-...) as 'verify' does (machine, installed product, revocations, clock) and refuse releases after its update subscription")
	f.StringVar(&lf.revocations, "revocations", "", "signed revocation list `FILE` for the --license check")
	f.StringVar(&lf.state, "state", "", "clock-state `FILE` for the --license check (default: verify's)")
	f.BoolVar(&plan, "plan", false, "print what would change and touch nothing")
	f.BoolVar(&noHooks, "no-hooks", false, "do not run the bundle's hooks")
	f.BoolVar(&jsonOut, "json", false, "print the result as JSON")
	return c
}

func printPlan(w io.Writer, p *install.Plan, target string) {
	from := "nothing installed"
	if p.From != "" {
		from = p.From
	}
	fmt.Fprintf(w, "plan: %s %s -> %s in %s\n", p.Product, from, p.To, target)
	for _, c := range p.Changes {
		fmt.Fprintf(w, "  %-6s %s", c.Op, c.Path)
		if c.Type == bundle.TypeFile {
			fmt.Fprintf(w, " (%d bytes)", c.Size)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "  %d unchanged\n", p.Unchanged)
	for _, h := range p.Hooks {
		fmt.Fprintf(w, "  hook %s %s (timeout %d s)\n", h.Phase, h.Path, h.Timeout)
	}
	for _, k := range p.TrustKeys {
		fmt.Fprintf(w, "  trust key %s\n", strings.Fields(k)[1])
	}
	for _, k := range p.RevokeKeys {
		fmt.Fprintf(w, "  revoke key %s\n", k)
	}
	if p.PinKey != "" {
		fmt.Fprintf(w, "  trust key %s for this target (signed the bundle; given with --pub)\n", p.PinKey)
	}
	fmt.Fprintf(w, "  space needed %d bytes, free %d bytes\n", p.SpaceNeeded, p.SpaceFree)
}

func newStatus() *cobra.Command {
	var pubs []string
	var target string
	var jsonOut bool
	c := &cobra.Command{
		Use:   "status --target DIR [--json]",
		Short: "Show the installed and previous release of DIR",
		Long: `status shows the release DIR/current points to and the one DIR/previous
keeps for rollback (product, version, release date, signing key, files),
each re-verified against the trusted keys, and the target's trust store.
Nothing is changed.`,
		Example: `  bundle status --target /opt/acme --json`,
		Args:    cli.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if target == "" {
				return cli.Usage("status needs --target DIR")
			}
			ring, err := trust(cmd, pubs)
			if err != nil {
				return err
			}
			st, err := install.TargetStatus(target, ring)
			if err != nil {
				return fail(err)
			}
			if jsonOut {
				return cli.JSON(cmd.OutOrStdout(), st)
			}
			w := cmd.OutOrStdout()
			c := st.Current
			fmt.Fprintf(w, "current:  %s %s (released %s, key %s) %s/current -> %s, %d files, %d bytes\n",
				c.Product, c.Version, c.ReleaseDate.Format(time.DateOnly), c.KeyID, target, c.Path, c.Files, c.Bytes)
			if p := st.Previous; p != nil {
				fmt.Fprintf(w, "previous: %s %s (released %s) -> %s\n", p.Product, p.Version, p.ReleaseDate.Format(time.DateOnly), p.Path)
			} else if st.PreviousError != "" {
				fmt.Fprintf(w, "previous: cannot be rolled back to: %s\n", st.PreviousError)
			} else {
				fmt.Fprintln(w, "previous: none")
			}
			return nil
		},
	}
	c.Flags().StringArrayVar(&pubs, "pub", nil, "also trust public key `NAME.pub` (repeatable)")
	c.Flags().StringVar(&target, "target", "", "target `DIR`")
	c.Flags().BoolVar(&jsonOut, "json", false, "print the status as JSON")
	return c
}

func newRollback() *cobra.Command {
	var pubs []string
	var target string
	var jsonOut bool
	c := &cobra.Command{
		Use:   "rollback --target DIR",
		Short: "Make the previous release current again",
		Long: `rollback checks the previous release's signature and every file against its
manifest, then switches DIR/current back to it with one rename. The release
it replaces becomes the previous one. Hooks are not run.`,
		Example: `  bundle rollback --target /opt/acme`,
		Args:    cli.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if target == "" {
				return cli.Usage("rollback needs --target DIR")
			}
			ring, err := trust(cmd, pubs)
			if err != nil {
				return err
			}
			m, err := install.Rollback(target, ring)
			if errors.Is(err, install.ErrNoPrevious) {
				return cli.Fail(cli.ExitNotInstalled, err, "a previous release exists only after a second apply; see 'bundle status --target "+target+"'")
			}
			if errors.Is(err, install.ErrNotInstalled) {
				return cli.Fail(cli.ExitNotInstalled, err, "nothing is installed in "+target+": check --target, or apply a bundle first")
			}
			if errors.Is(err, bundle.ErrDamaged) {
				return cli.Fail(cli.ExitDamaged, err, "the previous release was changed after it was installed; nothing was switched. Apply that release's bundle again instead (a signed downgrade bundle if it is older)")
			}
			if err != nil {
				return fail(err)
			}
			if jsonOut {
				return cli.JSON(cmd.OutOrStdout(), map[string]any{"target": target, "product": m.Product, "version": m.Version})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "rolled back %s to %s %s\n", target, m.Product, m.Version)
			return nil
		},
	}
	c.Flags().StringArrayVar(&pubs, "pub", nil, "also trust public key `NAME.pub` (repeatable)")
	c.Flags().StringVar(&target, "target", "", "target `DIR`")
	c.Flags().BoolVar(&jsonOut, "json", false, "print the result as JSON")
	return c
}
