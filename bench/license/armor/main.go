// Command armor rewrites a signed license given in any encoding (typed
// code, raw, armored) as an armored license file, keeping its signature,
// for bench/license/startup.sh (the golden vectors hold the valid unbound
// license only as a typed code). Usage: armor IN OUT
package main

import (
	"fmt"
	"os"

	"github.com/airseal/airseal/pkg/license"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: armor IN OUT")
		os.Exit(2)
	}
	in, err := os.ReadFile(os.Args[1])
	if err == nil {
		var l *license.License
		if l, err = license.Decode(in); err == nil {
			var out []byte
			if out, err = l.Armor(); err == nil {
				err = os.WriteFile(os.Args[2], out, 0o644)
			}
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "armor: %v\n", err)
		os.Exit(1)
	}
}
