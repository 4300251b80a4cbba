package main

import (
	"strings"
	"unicode/utf8"

	"github.com/airseal/airseal/internal/safetext"
	"github.com/airseal/airseal/pkg/bundle"
)

// show makes untrusted text safe to print with the one rule
// (internal/safetext.Clean: control and bidirectional formatting
// characters and invalid UTF-8 escaped), without Clean's length cut, so
// that a long file path is shown whole.
func show(s string) string {
	if len(s) <= safetext.MaxLen/4 {
		return safetext.Clean(s)
	}
	var b strings.Builder
	for len(s) > 0 {
		// A piece of at most 63 bytes escapes to at most 252 (4 per
		// byte), under Clean's cut.
		n := min(len(s), 60)
		for k := 0; k < 3 && n < len(s) && !utf8.RuneStart(s[n]); k++ {
			n++
		}
		b.WriteString(safetext.Clean(s[:n]))
		s = s[n:]
	}
	return b.String()
}

// showAll applies show to each string.
func showAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = show(s)
	}
	return out
}

// cleanManifest returns a copy of m with every string that came from the
// bundle passed through show, for printing an unverified manifest (text
// and --json). The reader already refuses control characters in these
// fields; this keeps inspect safe whatever a future reader accepts.
func cleanManifest(m *bundle.Manifest) *bundle.Manifest {
	c := *m
	c.Product, c.Version = show(m.Product), show(m.Version)
	c.FromVersions = showAll(m.FromVersions)
	c.RevokedLicenses = showAll(m.RevokedLicenses)
	c.RevokedKeys = showAll(m.RevokedKeys)
	c.TrustKeys = showAll(m.TrustKeys)
	c.Files = make([]bundle.File, len(m.Files))
	for i, f := range m.Files {
		f.Path, f.Target = show(f.Path), show(f.Target)
		c.Files[i] = f
	}
	c.Hooks = make([]bundle.Hook, len(m.Hooks))
	for i, h := range m.Hooks {
		h.Path = show(h.Path)
		c.Hooks[i] = h
	}
	c.Licenses = make([]bundle.License, len(m.Licenses))
	for i, l := range m.Licenses {
		// The text form shows a carried license's size only; --json shows
		// its text, which is kept as is only when it is what a license
		// file holds (printable ASCII lines), else escaped like the rest.
		data := l.Data
		if !licenseText(data) {
			data = show(data)
		}
		c.Licenses[i] = bundle.License{Name: show(l.Name), Data: data}
	}
	return &c
}

// licenseText reports whether s holds only printable ASCII, tabs and
// newlines: what an armored license is, and what is safe to print raw.
func licenseText(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\n' && c != '\t' && c != '\r') || c > 0x7e {
			return false
		}
	}
	return true
}
