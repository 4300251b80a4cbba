// Command startup times whole processes paired A B A B: each round runs
// every command once, in turn, so that load from other processes hits all
// of them alike. It prints each command's median wall time and its ratio to
// the first command (the baseline). Used by bench/license/startup.sh.
//
// Usage: startup ROUNDS -- BASELINE ARGS... -- CMD ARGS... [-- CMD ARGS...]
//
// A command may start with @state-age=DURATION:PATH: before each of its runs
// (untimed) PATH is written as a clock-state file whose newest_seen is
// DURATION before now, as if the last run had been that long ago
// (docs/spec/clock-state-v1.md).
package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

func main() {
	if len(os.Args) < 5 || os.Args[2] != "--" {
		fmt.Fprintln(os.Stderr, "usage: startup ROUNDS -- BASELINE ARGS... -- CMD ARGS... [-- CMD ARGS...]")
		os.Exit(2)
	}
	rounds, err := strconv.Atoi(os.Args[1])
	if err != nil || rounds < 1 {
		fmt.Fprintln(os.Stderr, "startup: ROUNDS must be a positive number")
		os.Exit(2)
	}
	var cmds [][]string
	for _, a := range os.Args[3:] {
		if a == "--" {
			cmds = append(cmds, nil)
			continue
		}
		if len(cmds) == 0 {
			cmds = append(cmds, nil)
		}
		cmds[len(cmds)-1] = append(cmds[len(cmds)-1], a)
	}
	times := make([][]time.Duration, len(cmds))
	// One warm-up run each, not counted (page cache).
	for r := -1; r < rounds; r++ {
		for i, c := range cmds {
			if age, path, ok := stateAge(c[0]); ok {
				seen := time.Now().Add(-age).UTC().Truncate(time.Second).Format(time.RFC3339)
				if err := os.WriteFile(path, []byte(`{"version": 1, "newest_seen": "`+seen+`"}`+"\n"), 0o644); err != nil {
					fmt.Fprintf(os.Stderr, "startup: %v\n", err)
					os.Exit(1)
				}
				c = c[1:]
			}
			cmd := exec.Command(c[0], c[1:]...)
			start := time.Now()
			if err := cmd.Run(); err != nil {
				if _, ok := err.(*exec.ExitError); !ok {
					fmt.Fprintf(os.Stderr, "startup: %s: %v\n", c[0], err)
					os.Exit(1)
				}
			}
			if r >= 0 {
				times[i] = append(times[i], time.Since(start))
			}
		}
	}
	base := median(times[0])
	fmt.Printf("%-50s %10s %7s\n", "command", "median", "ratio")
	for i, c := range cmds {
		m := median(times[i])
		if age, _, ok := stateAge(c[0]); ok {
			c = append([]string{filepath.Base(c[1])}, append(c[2:], "[state "+age.String()+" old]")...)
		}
		fmt.Printf("%-50s %8.2fms %6.2fx\n", trim(strings.Join(c, " ")), float64(m.Microseconds())/1000, float64(m)/float64(base))
	}
}

// stateAge parses a leading @state-age=DURATION:PATH argument.
func stateAge(arg string) (time.Duration, string, bool) {
	rest, ok := strings.CutPrefix(arg, "@state-age=")
	if !ok {
		return 0, "", false
	}
	d, path, ok := strings.Cut(rest, ":")
	age, err := time.ParseDuration(d)
	if !ok || err != nil || path == "" {
		fmt.Fprintf(os.Stderr, "startup: %q: want @state-age=DURATION:PATH\n", arg)
		os.Exit(2)
	}
	return age, path, true
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func trim(s string) string {
	if len(s) > 50 {
		return "..." + s[len(s)-47:]
	}
	return s
}
