package main

import (
	"os/exec"
	"strings"
	"testing"
)

// verify links nothing a verifier does not need: every package init costs
// start-up time on each run (issue 9, item 5 and Measures). The QR and image
// libraries belong to the vendor's tools.
func TestVerifyLinksNoRenderingLibraries(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range forbiddenDeps {
			if dep == banned || strings.HasPrefix(dep, banned+"/") {
				t.Errorf("verify links %s (%s)", dep, banned)
			}
		}
	}
}

// forbiddenDeps are packages (and their sub-packages) verify must not link.
var forbiddenDeps = []string{
	"github.com/airseal/airseal/internal/qrcode",
	"github.com/skip2/go-qrcode",
	"image/png",
}
