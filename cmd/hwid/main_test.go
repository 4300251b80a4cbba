package main

import (
	"bytes"
	"fmt"
	"image"
	_ "image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/makiuchi-d/gozxing"
	gozxingqr "github.com/makiuchi-d/gozxing/qrcode"
	"github.com/rogpeppe/go-internal/testscript"
	"github.com/rogpeppe/go-internal/txtar"

	"github.com/airseal/airseal/pkg/hwid"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"hwid": func() { os.Exit(run()) },
		// hwid-exit N ARGS... runs hwid ARGS and fails unless it exits N.
		"hwid-exit": func() {
			want, err := strconv.Atoi(os.Args[1])
			if err != nil {
				fmt.Fprintln(os.Stderr, "usage: hwid-exit CODE ARGS...")
				os.Exit(100)
			}
			os.Args = append([]string{"hwid"}, os.Args[2:]...)
			if got := run(); got != want {
				fmt.Fprintf(os.Stderr, "hwid exited %d, want %d\n", got, want)
				os.Exit(1)
			}
			os.Exit(0)
		},
		// mkfifo NAME makes a named pipe.
		"mkfifo": func() {
			if err := syscall.Mkfifo(os.Args[1], 0o644); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			os.Exit(0)
		},
		// bigfile NAME BYTES writes a file of BYTES bytes.
		"bigfile": func() {
			n, _ := strconv.Atoi(os.Args[2])
			if err := os.WriteFile(os.Args[1], bytes.Repeat([]byte{' '}, n), 0o644); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			os.Exit(0)
		},
		// checkrequest FILE prints what hwid.ParseRequest reads from FILE.
		"checkrequest": func() {
			b, err := os.ReadFile(os.Args[1])
			if err == nil {
				var r *hwid.Request
				if r, err = hwid.ParseRequest(b); err == nil {
					fmt.Printf("product %s customer %q fingerprint %s need %d of %d verdict %s/%s evidence %d\n",
						r.Product, r.Customer, r.Fingerprint.ID(), r.Fingerprint.Need, r.Fingerprint.Total(),
						r.Virtualization.Type, r.Virtualization.Technology, len(r.Virtualization.Evidence))
					os.Exit(0)
				}
			}
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		},
		// qrdecode FILE.png prints the text of a QR code image.
		"qrdecode": func() {
			f, err := os.Open(os.Args[1])
			if err == nil {
				var img image.Image
				if img, _, err = image.Decode(f); err == nil {
					var bmp *gozxing.BinaryBitmap
					if bmp, err = gozxing.NewBinaryBitmapFromImage(img); err == nil {
						var res *gozxing.Result
						if res, err = gozxingqr.NewQRCodeReader().Decode(bmp, nil); err == nil {
							fmt.Println(res.GetText())
							os.Exit(0)
						}
					}
				}
			}
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		},
	})
}

// virtualized asks systemd-detect-virt, the independent judge, whether this
// machine is a VM or container.
func virtualized() (bool, bool) {
	p, err := exec.LookPath("systemd-detect-virt")
	if err != nil {
		return false, false
	}
	out, _ := exec.Command(p).Output()
	return strings.TrimSpace(string(out)) != "none", true
}

func TestScripts(t *testing.T) {
	envs, err := filepath.Glob("../../pkg/hwid/testdata/envs/*.txtar")
	if err != nil || len(envs) == 0 {
		t.Fatal("no fixture environments")
	}
	virt, judged := virtualized()
	testscript.Run(t, testscript.Params{
		Dir: "testdata",
		Setup: func(env *testscript.Env) error {
			// Every fixture environment, unpacked under $WORK/envs/NAME.
			for _, e := range envs {
				a, err := txtar.ParseFile(e)
				if err != nil {
					return err
				}
				dir := filepath.Join(env.WorkDir, "envs", strings.TrimSuffix(filepath.Base(e), ".txtar"))
				for _, f := range a.Files {
					p := filepath.Join(dir, filepath.FromSlash(f.Name))
					if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
						return err
					}
					if err := os.WriteFile(p, f.Data, 0o644); err != nil {
						return err
					}
				}
			}
			return nil
		},
		Condition: func(cond string) (bool, error) {
			switch cond {
			case "virt":
				return virt, nil
			case "judged":
				return judged, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
	})
}
