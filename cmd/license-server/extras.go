package main

import (
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/airseal/airseal/internal/cli"
	"github.com/airseal/airseal/internal/devices"
	"github.com/airseal/airseal/internal/seatserver"
)

// extrasFlags are serve's flags for issue 11: devices, IP lists, console.
type extrasFlags struct {
	hook         string
	hookDir      string
	maxPendingIP int
	maxPending   int
	noIPLists    bool
	noConsole    bool
}

func addExtrasFlags(c *cobra.Command, x *extrasFlags) {
	f := c.Flags()
	f.StringVar(&x.hook, "device-hook", "", "run `COMMAND` (absolute path, arguments split on spaces, no shell) for each new device request; the device is in AIRSEAL_DEVICE_* variables and JSON on stdin")
	f.StringVar(&x.hookDir, "device-hook-dir", "", "write a JSON file for each new device request into `DIR` (mode 0600)")
	f.IntVar(&x.maxPendingIP, "max-pending-per-ip", 20, "pending device requests allowed from one address (IPv6: one /64) `N`")
	f.IntVar(&x.maxPending, "max-pending", 1000, "pending device requests allowed in total `N`")
	f.BoolVar(&x.noConsole, "no-console", false, "do not serve the web console at /console/")
	f.BoolVar(&x.noIPLists, "no-ip-lists", false, "ignore whitelist.dat and blacklist.dat in the server directory")
}

// apply puts the flags into cfg; the IP lists are read from the server
// directory.
func (x *extrasFlags) apply(cfg *seatserver.Config, d seatserver.Dir, sweep time.Duration) error {
	if x.maxPendingIP < 1 || x.maxPending < 1 {
		return cli.Usage("--max-pending-per-ip and --max-pending must be at least 1")
	}
	opt := devices.Options{MaxPendingPerIP: x.maxPendingIP, MaxPending: x.maxPending}
	if x.hook != "" || x.hookDir != "" {
		h := &devices.Hook{Dir: x.hookDir}
		if x.hook != "" {
			h.Command = strings.Fields(x.hook)
			if !strings.HasPrefix(h.Command[0], "/") {
				return cli.Usage("--device-hook %q: give the command's absolute path (it runs without a shell)", x.hook)
			}
		}
		opt.Hook = h
	}
	cfg.Extras.Devices = opt
	cfg.Extras.Console = !x.noConsole
	cfg.Extras.AuditPath = d.AuditPath()
	cfg.Extras.Sweep = sweep
	if !x.noIPLists {
		cfg.Extras.IPListDir = d.Path
	}
	return nil
}
