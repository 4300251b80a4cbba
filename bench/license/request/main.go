// Command request writes a license request for this machine, for the
// bench/license/run.sh benchmark (the hwid command may not be built yet).
// Usage: go run ./bench/license/request PRODUCT OUT
package main

import (
	"fmt"
	"os"
	"time"

	"github.com/airseal/airseal/pkg/hwid"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: request PRODUCT OUT")
		os.Exit(2)
	}
	rep, err := hwid.Collect(hwid.Options{Product: os.Args[1]})
	if err == nil {
		var req *hwid.Request
		if req, err = hwid.NewRequest(rep, os.Args[1], "Bench LLC", time.Now(), nil); err == nil {
			var data []byte
			if data, err = req.Marshal(); err == nil {
				err = os.WriteFile(os.Args[2], data, 0o644)
			}
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "request:", err)
		os.Exit(1)
	}
}
