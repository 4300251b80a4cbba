package main

import (
	"testing"

	"github.com/airseal/airseal/pkg/bundle"
)

func TestCleanManifestLicenseText(t *testing.T) {
	armored := "-----BEGIN AIRSEAL LICENSE-----\nabc\n-----END AIRSEAL LICENSE-----\n"
	evil := "x\x1b[2J\u009b31mNOT VERIFIED"
	m := cleanManifest(&bundle.Manifest{Licenses: []bundle.License{{Name: "a.lic", Data: armored}, {Name: "b\x1b.lic", Data: evil}}})
	if m.Licenses[0].Data != armored {
		t.Errorf("armored license text changed: %q", m.Licenses[0].Data)
	}
	for _, l := range m.Licenses[1:] {
		for _, r := range l.Name + l.Data {
			if r < 0x20 || (r >= 0x7f && r <= 0x9f) {
				t.Errorf("control character %U left in %q / %q", r, l.Name, l.Data)
			}
		}
	}
}
