package main

import (
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// Every command has a description and an example, and every flag that
// takes a value names what it takes (issue 13 item 12).
func TestHelpConventions(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Short == "" || c.Long == "" || c.Example == "" {
			t.Errorf("%s: missing Short, Long or Example", c.CommandPath())
		}
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if f.Value.Type() == "bool" || f.Hidden || f.Deprecated != "" {
				return
			}
			if name, _ := pflag.UnquoteUsage(f); name == f.Value.Type() {
				t.Errorf("%s --%s: no placeholder (the usage shows %q); put it in backquotes", c.CommandPath(), f.Name, name)
			}
		})
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(newRoot())
}
