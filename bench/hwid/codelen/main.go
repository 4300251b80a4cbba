// Command codelen measures the typed codes' lengths (issue 13 item 13): an
// unbound license, a license bound to 5 to 11 components, and a license
// request, in characters and in 5-character groups, with how long they take
// to read aloud at one group every two seconds.
//
// Usage: go run ./bench/hwid/codelen   (from the repository root)
package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/airseal/airseal/pkg/fingerprint"
	"github.com/airseal/airseal/pkg/hwid"
	"github.com/airseal/airseal/pkg/keys"
	"github.com/airseal/airseal/pkg/license"
)

func main() {
	k, _ := keys.NewPrivateKey(bytes.Repeat([]byte{7}, 32))
	issued := time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC)
	updates := issued.AddDate(1, 0, 0)
	base := func() *license.License {
		return &license.License{
			Serial: "7K3M-Q9TX-4HZP-2W8R", Product: "acme-db", Kind: license.KindMain,
			Customer: license.Customer{Name: "Example Corp"}, IssuedAt: issued, NotBefore: issued,
			UpdatesUntil: &updates, Seats: 5,
			Features: []license.Feature{{Name: "export", Value: 1, IsBool: true}},
		}
	}
	row := func(what, code string) {
		groups := strings.Count(code, "-")
		fmt.Printf("%-34s %4d characters  %3d groups  ~%d min aloud\n", what, len(code), groups, (groups*2+59)/60)
	}
	l := base()
	if err := l.Sign(k); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code, _ := l.Code()
	row("license, unbound", code)
	names := []string{"system_uuid", "system_serial", "board_serial", "cpu", "mac", "mac", "disk_serial", "disk_serial", "disk_serial", "machine_id", "mac"}
	for n := 5; n <= 11; n++ {
		l := base()
		fp := fingerprint.Fingerprint{}
		for i := 0; i < n; i++ {
			fp.Components = append(fp.Components, fingerprint.Component{
				Name: names[i], Weight: 1, Hash: fingerprint.HashValue("acme-db", names[i], fmt.Sprint(i)), NeedsRoot: i < 3,
			})
		}
		fp.Need = n - 1
		l.Machine = &fp
		if err := l.Sign(k); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		code, _ := l.Code()
		row(fmt.Sprintf("license, bound to %d components", n), code)
	}
	for _, n := range []int{3, 7, 11} {
		fp := fingerprint.Fingerprint{}
		for i := 0; i < n; i++ {
			fp.Components = append(fp.Components, fingerprint.Component{Name: names[i], Weight: 1, Hash: fingerprint.HashValue("acme-db", names[i], fmt.Sprint(i))})
		}
		fp.Need = n - 1
		rep := &hwid.Report{Product: "acme-db", Fingerprint: fp, Hostname: "db1.example.com",
			OS:             "Debian GNU/Linux 12 (bookworm) (kernel 6.1.0-18-amd64)",
			Virtualization: hwid.Verdict{Type: hwid.TypeNone, Technology: "none"}}
		req, err := hwid.NewRequest(rep, "acme-db", "Example Corp", issued, bytes.NewReader(make([]byte, 16)))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		code, _ := req.Code()
		row(fmt.Sprintf("request, %d components", n), code)
	}
}
