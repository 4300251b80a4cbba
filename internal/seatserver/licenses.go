package seatserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/airseal/airseal/internal/safetext"
	"github.com/airseal/airseal/internal/seats"
	"github.com/airseal/airseal/internal/seatstore"
	"github.com/airseal/airseal/pkg/license"
	"github.com/airseal/airseal/pkg/seat"
)

func leaseKey(l seats.Lease) string               { return l.ID }
func licenseKey(l seatstore.LicenseRecord) string { return l.Serial }
func tokenKey(t seatstore.TokenRecord) string     { return t.Name }

// Errors of license installation, matched with errors.Is.
var (
	// ErrTaxID: the ITN/IEC given do not match the tax ID signed into the
	// license (400, nothing installed).
	ErrTaxID = errors.New("ITN/IEC do not match the license")
	// ErrNotServerLicense: a v1 license, which names no server (400).
	ErrNotServerLicense = errors.New("not a server license")
	// ErrNoLicense: no license with that serial is installed (404).
	ErrNoLicense = errors.New("no such license installed")
)

// installed is a license checked for this server.
type installed struct {
	core    *seats.License
	armored string
}

// checkInstalled verifies a license stored on the server at start: the
// vendor's signature, this server's key among its nodes and this machine
// (MatchNode). Its validity period is not checked here: an expired license
// stays installed and stops counting (the core decides at each operation).
func (s *Server) checkInstalled(raw []byte, now time.Time) (*installed, error) {
	v, err := license.PayloadVersion(raw)
	if err != nil {
		return nil, err
	}
	if v != 2 {
		return nil, fmt.Errorf("%w: a version %d license names no seat server; the vendor issues a server license from this server's server-request.json", ErrNotServerLicense, v)
	}
	sl, err := license.DecodeServer(raw)
	if err != nil {
		return nil, err
	}
	k, ok := s.cfg.Keyring.Get(sl.KeyID)
	if !ok {
		return nil, fmt.Errorf("%w %s: this server does not trust the key that signed license %s; add the vendor's public key (license-server init --pub)", license.ErrUnknownKey, sl.KeyID, sl.Serial)
	}
	p, err := sl.MarshalPayload()
	if err != nil {
		return nil, err
	}
	if !k.Verify(append([]byte(license.SignaturePrefixV2), p...), sl.Signature) {
		return nil, fmt.Errorf("%w: license %s was changed after signing or is damaged", license.ErrBadSignature, sl.Serial)
	}
	return s.matchNode(sl)
}

// matchNode checks sl against this server's key and machine.
func (s *Server) matchNode(sl *license.ServerLicense) (*installed, error) {
	m, err := s.cfg.Machine(sl.Product)
	if err != nil {
		return nil, fmt.Errorf("reading this machine's facts for %s: %w", sl.Product, err)
	}
	if _, err := sl.MatchNode(m, s.pub); err != nil {
		return nil, err
	}
	arm, err := sl.Armor()
	if err != nil {
		return nil, err
	}
	return &installed{core: &seats.License{License: &sl.License, Unit: sl.SeatUnit}, armored: string(arm)}, nil
}

// CheckTaxID compares the ITN and IEC given at installation with the tax
// ID signed into the license: "ITN/IEC", or "ITN" when IEC is empty. A
// license without a tax ID accepts any. Spaces around the values are
// ignored.
func CheckTaxID(signed, itn, iec string) error {
	signed = strings.TrimSpace(signed)
	if signed == "" {
		return nil
	}
	itn, iec = strings.TrimSpace(itn), strings.TrimSpace(iec)
	given := itn
	if iec != "" {
		given += "/" + iec
	}
	if given == signed {
		return nil
	}
	if itn == "" {
		return fmt.Errorf("%w: the license is signed for a customer with a tax ID; give ITN (and IEC if the customer has one) as on the order", ErrTaxID)
	}
	return fmt.Errorf("%w: ITN/IEC %q is not the tax ID this license was issued to; check the ITN and IEC on the order", ErrTaxID, safetext.Clean(given))
}

// InstallResult is what Install did.
type InstallResult struct {
	Licence seat.Licence
	// Created is false when the same license was installed already.
	Created bool
}

// Install verifies a license given as armored text or typed code and
// installs it: it must be a v2 server license signed by a trusted vendor
// key, currently valid, not revoked, naming this server's key and bound to
// this machine, with ITN/IEC matching its tax ID, and allowed by the
// stacking rules. Nothing is installed unless every check passes; the
// license is durable before Install returns.
func (s *Server) Install(ctx context.Context, code []byte, itn, iec string) (*InstallResult, error) {
	code = bytes.TrimSpace(code)
	v, err := license.PayloadVersion(code)
	if err != nil {
		return nil, err
	}
	if v != 2 {
		return nil, fmt.Errorf("%w: this is a version %d license, which names no seat server; send this server's server-request.json to the vendor for a server license", ErrNotServerLicense, v)
	}
	now := s.now()
	s.mu.Lock()
	revoked := s.revokedLocked()
	s.mu.Unlock()
	sl, err := license.VerifyServer(code, license.VerifyOptions{Keyring: s.cfg.Keyring, Now: now, RevokedSerials: revoked})
	if err != nil && !errors.Is(err, license.ErrUpdatesExpired) {
		return nil, err
	}
	if err := CheckTaxID(sl.Customer.TaxID, itn, iec); err != nil {
		return nil, err
	}
	il, err := s.matchNode(sl)
	if err != nil {
		return nil, err
	}
	rec := seatstore.LicenseRecord{Serial: sl.Serial, Raw: []byte(il.armored), ITN: strings.TrimSpace(itn), IEC: strings.TrimSpace(iec), Installed: now.UTC().Truncate(time.Second)}
	res := &InstallResult{}
	err = s.applyErr(ctx, func(now time.Time) ([]seats.Event, seatstore.Change, error) {
		if _, ok := s.records[sl.Serial]; ok && s.armored[sl.Serial] == il.armored {
			return nil, seatstore.Change{}, nil
		}
		for _, o := range s.core.Licenses() {
			if o.Product == sl.Product && o.Serial != sl.Serial && o.Unit != sl.SeatUnit {
				return nil, seatstore.Change{}, fmt.Errorf("%w: license %s counts seats per %s but %s, installed, counts per %s; one product counts one way: remove %s first or ask the vendor",
					seats.ErrInstall, sl.Serial, seatUnitName(sl.SeatUnit), o.Serial, seatUnitName(o.Unit), o.Serial)
			}
		}
		ev, err := s.core.Install(il.core, now)
		if err != nil {
			return ev, seatstore.Change{}, err
		}
		s.records[sl.Serial] = rec
		s.armored[sl.Serial] = il.armored
		s.licSet.Store(nil) // Licence-Set changes (licset.go)
		res.Created = true
		return ev, seatstore.Change{PutLicenses: []seatstore.LicenseRecord{rec}}, nil
	})
	if err != nil {
		return nil, err
	}
	l, ok := s.Licence(sl.Serial)
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNoLicense, sl.Serial)
	}
	res.Licence = l
	if res.Created {
		s.log.Info("license installed", "serial", sl.Serial, "product", sl.Product, "kind", sl.Kind.String(), "seats", sl.Seats)
	}
	return res, nil
}

// applyErr is apply for an operation that may fail: the events and the
// change are made durable even when op returns an error (a refusal is
// logged), and op's error is returned after.
func (s *Server) applyErr(ctx context.Context, op func(now time.Time) ([]seats.Event, seatstore.Change, error)) error {
	var opErr error
	err := s.apply(ctx, func(now time.Time) ([]seats.Event, seatstore.Change) {
		ev, ch, err := op(now)
		opErr = err
		return ev, ch
	})
	if opErr != nil {
		return opErr
	}
	return err
}

// Remove uninstalls a license. Sessions holding its seats are told at
// their next renewal (410), never dropped silently.
func (s *Server) Remove(ctx context.Context, serial string) error {
	err := s.applyErr(ctx, func(now time.Time) ([]seats.Event, seatstore.Change, error) {
		l := s.findLicense(serial)
		if l == nil {
			return nil, seatstore.Change{}, fmt.Errorf("%w: %s (license-server license list shows what is installed)", ErrNoLicense, safetext.Clean(serial))
		}
		serial = l.Serial
		var deps []string
		for _, o := range s.core.Licenses() {
			if o.Kind == license.KindAdditional && o.MainSerial == serial {
				deps = append(deps, o.Serial)
			}
		}
		if len(deps) > 0 {
			return nil, seatstore.Change{}, fmt.Errorf("%w: main license %s has additional licenses installed (%s); remove them first", seats.ErrInstall, serial, strings.Join(deps, ", "))
		}
		ev, err := s.core.Remove(serial, now)
		if err != nil {
			return ev, seatstore.Change{}, err
		}
		delete(s.records, serial)
		delete(s.armored, serial)
		s.licSet.Store(nil) // Licence-Set changes (licset.go)
		return ev, seatstore.Change{DeleteLicenses: []string{serial}}, nil
	})
	if err == nil {
		s.log.Info("license removed", "serial", serial)
	}
	return err
}

// revokedLocked returns every serial revoked so far. The caller holds s.mu.
func (s *Server) revokedLocked() []string {
	var out []string
	for _, l := range s.core.Licenses() {
		if l.Revoked {
			out = append(out, l.Serial)
		}
	}
	for sr := range s.revokedExtra {
		out = append(out, sr) // duplicates do no harm
	}
	return out
}

// AddRevocations applies a signed revocation list (any encoding) from a
// vendor key the server trusts. A list older than one already applied for
// the same key is refused (license.ErrRevoked: an older list can hide a
// revocation). It returns the list's key and sequence and the installed
// serials it revoked.
func (s *Server) AddRevocations(ctx context.Context, data []byte) (*seat.RevocationsResult, error) {
	rl, err := license.OpenRevocations(data, s.cfg.Keyring)
	if err != nil {
		return nil, err
	}
	var hit []string
	err = s.applyErr(ctx, func(now time.Time) ([]seats.Event, seatstore.Change, error) {
		if seen := s.revSeen[rl.KeyID]; rl.Sequence < seen {
			return nil, seatstore.Change{}, fmt.Errorf("%w check failed: revocation list %d is older than list %d already applied, and an older list can hide a revocation; use the newest list",
				license.ErrRevoked, rl.Sequence, seen)
		}
		var serials []string
		for _, l := range s.core.Licenses() {
			if rl.Contains(l.Serial) && !l.Revoked {
				serials = append(serials, l.Serial)
			}
		}
		for _, sr := range rl.Serials {
			s.revokedExtra[sr] = true
		}
		all := make([]string, 0, len(s.revokedExtra))
		for sr := range s.revokedExtra {
			all = append(all, sr)
		}
		sort.Strings(all)
		hit = serials
		s.revSeen[rl.KeyID] = rl.Sequence
		ev := s.core.Revoke(serials, now)
		ch := seatstore.Change{Settings: map[string]string{
			settingRevSeq + string(rl.KeyID): strconv.FormatUint(rl.Sequence, 10),
			settingRevSerials:                strings.Join(all, ","),
		}}
		return ev, ch, nil
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("revocation list applied", "key", string(rl.KeyID), "sequence", rl.Sequence, "revoked_installed", hit)
	if hit == nil {
		hit = []string{}
	}
	return &seat.RevocationsResult{KeyID: string(rl.KeyID), Sequence: rl.Sequence, Revoked: hit}, nil
}

// keyType maps a license kind to the 1C KeyType.
func keyType(k license.Kind) int {
	switch k {
	case license.KindAdditional:
		return 4
	case license.KindDemo:
		return 5
	}
	return 3
}

func featureMap(fs []license.Feature) map[string]int64 {
	m := make(map[string]int64, len(fs))
	for _, f := range fs {
		m[f.Name] = f.Value
	}
	return m
}

func wireTime(t time.Time) time.Time { return t.UTC().Truncate(time.Second) }

// licenceLocked describes one installed license. The caller holds s.mu.
func (s *Server) licenceLocked(l *seats.License, now time.Time) seat.Licence {
	rec := s.records[l.Serial]
	valid := !l.Revoked && !now.Before(l.NotBefore) && (l.Expires == nil || now.Before(*l.Expires))
	workable := valid
	if l.Kind == license.KindAdditional {
		m := s.findLicense(l.MainSerial)
		workable = valid && m != nil && !m.Revoked && !now.Before(m.NotBefore) && (m.Expires == nil || now.Before(*m.Expires))
	}
	out := seat.Licence{
		KeyNo: l.Serial, KeyID: l.Product, KeyType: keyType(l.Kind), Kind: l.Kind.String(), MainKeyNo: l.MainSerial,
		Enabled: !l.Revoked, Workable: workable, Revoked: l.Revoked,
		Expired:      l.Expires != nil && !now.Before(*l.Expires),
		LicenceCount: l.Seats, SeatUnit: seatUnitName(l.Unit),
		InUse: s.core.InUse(l.Product), Peak: s.peak[l.Product],
		ActivationDate: wireTime(rec.Installed), StartDate: wireTime(l.NotBefore),
		CustomerName: l.Customer.Name, ITN: seat.TaxID(rec.ITN), IEC: seat.TaxID(rec.IEC),
		Features: featureMap(l.Features),
	}
	if len(l.DemoLimits) > 0 {
		out.DemoLimits = featureMap(l.DemoLimits)
	}
	if l.Expires != nil {
		e := wireTime(*l.Expires)
		out.ExpireDate = &e
		d := int(e.Sub(now).Hours() / 24)
		if d < 0 {
			d = 0
		}
		out.DaysLeft = &d
	}
	return out
}

func seatUnitName(u license.SeatUnit) string {
	if u == license.PerComputer {
		return "computer"
	}
	return "session"
}

// findLicense finds an installed license by serial as given, else as
// license.NormalizeSerial spells it (a serial typed by a person).
func (s *Server) findLicense(serial string) *seats.License {
	norm, _ := license.NormalizeSerial(serial)
	for _, want := range []string{serial, norm} {
		for _, l := range s.core.Licenses() {
			if l.Serial == want {
				return l
			}
		}
	}
	return nil
}

// Licences returns every installed license, by product then serial.
func (s *Server) Licences() []seat.Licence {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	ls := s.core.Licenses()
	out := make([]seat.Licence, 0, len(ls))
	for _, l := range ls {
		out = append(out, s.licenceLocked(l, now))
	}
	return out
}

// Licence returns one installed license by serial.
func (s *Server) Licence(serial string) (seat.Licence, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.findLicense(serial)
	if l == nil {
		return seat.Licence{}, false
	}
	return s.licenceLocked(l, s.now()), true
}

// ServerLicences returns the armored installed licenses (each names this
// server's response key), by serial.
func (s *Server) ServerLicences() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	serials := make([]string, 0, len(s.armored))
	for k := range s.armored {
		serials = append(serials, k)
	}
	sort.Strings(serials)
	out := make([]string, len(serials))
	for i, k := range serials {
		out[i] = s.armored[k]
	}
	return out
}
