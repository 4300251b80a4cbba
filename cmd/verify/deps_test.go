package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
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
// klauspost/cpuid probed every CPUID feature leaf in its package init on
// each start (about 0.9 ms in a VM, where CPUID traps); hwid reads the two
// leaves it needs itself.
var forbiddenDeps = []string{
	"github.com/airseal/airseal/internal/qrcode",
	"github.com/skip2/go-qrcode",
	"image/png",
	"github.com/klauspost/cpuid",
	"github.com/klauspost/compress",
	"github.com/airseal/airseal/pkg/bundle",
	"github.com/airseal/airseal/internal/ledger",
	"net/http",
	// hwid's dump archive (hwid dump only): archive/tar, compress/gzip and
	// compress/flate cost about 35 us of init on each start.
	"github.com/airseal/airseal/pkg/hwid/dump",
	"archive/tar",
	"compress/gzip",
	"compress/flate",
}

// Package init runs on every start of verify, whatever it is asked to do:
// none of airseal's own packages may build tables at init (hwid's
// placeholder regexp and maps once allocated 40 KB there; the regexp is now
// built on first use and the maps are slices the compiler lays out).
// Measured with the runtime's own init trace.
func TestVerifyInitIsSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds verify")
	}
	bin := filepath.Join(t.TempDir(), "verify")
	if out, err := exec.Command("go", "build", "-trimpath", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "--version")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("verify --version: %v\n%s", err, stderr.String())
	}
	const ownLimit = 1 << 10
	seen := 0
	for _, line := range strings.Split(stderr.String(), "\n") {
		// init PKG @T ms, C ms clock, B bytes, N allocs
		f := strings.Fields(line)
		if len(f) < 9 || f[0] != "init" || f[8] != "bytes," {
			continue
		}
		seen++
		b, err := strconv.Atoi(f[7])
		if err != nil {
			t.Fatalf("init trace line %q: %v", line, err)
		}
		if strings.HasPrefix(f[1], "github.com/airseal/") && b > ownLimit {
			t.Errorf("package %s allocates %d bytes at init (limit %d): build its tables on first use", f[1], b, ownLimit)
		}
	}
	if seen == 0 {
		t.Fatalf("no init trace in verify's stderr:\n%s", stderr.String())
	}
}

// verify links no template executor: text/template's use of
// reflect.Value.MethodByName makes the linker keep every exported method of
// every type, which made verify 1.5 MB larger and each start about 0.3 ms
// slower (issue 9, Measures). internal/cli sets no cobra template for that
// reason; a SetUsageTemplate, SetHelpTemplate or SetVersionTemplate
// anywhere in verify's tree would bring it back.
func TestNoTemplateExecutor(t *testing.T) {
	if testing.Short() {
		t.Skip("builds verify")
	}
	bin := filepath.Join(t.TempDir(), "verify")
	if out, err := exec.Command("go", "build", "-trimpath", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command("go", "tool", "nm", bin).CombinedOutput()
	if err != nil {
		t.Fatalf("go tool nm: %v\n%s", err, out)
	}
	syms := string(out)
	if !strings.Contains(syms, "main.verify") {
		t.Fatalf("go tool nm lists no main.verify: not verify's symbols")
	}
	for _, s := range []string{"reflect.Value.MethodByName", "text/template.(*Template).Execute"} {
		if strings.Contains(syms, s) {
			t.Errorf("verify links %s: a cobra template is set somewhere (use SetUsageFunc/SetHelpFunc, as internal/cli does)", s)
		}
	}
}
