// Command startup times whole processes paired A B A B: each round runs
// every command once, in turn, so that load from other processes hits all
// of them alike. It prints each command's median wall time and its ratio to
// the first command (the baseline). Used by bench/license/startup.sh.
//
// Usage: startup ROUNDS -- BASELINE ARGS... -- CMD ARGS... [-- CMD ARGS...]
package main

import (
	"fmt"
	"os"
	"os/exec"
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
		fmt.Printf("%-50s %8.2fms %6.2fx\n", trim(strings.Join(c, " ")), float64(m.Microseconds())/1000, float64(m)/float64(base))
	}
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
