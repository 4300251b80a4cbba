package main

import (
	"testing"

	"github.com/airseal/airseal/internal/cli/clitest"
)

// TestHelp: every seat command has a description and an example, every flag
// that takes a value names what it takes, and --help ends with the exit
// table.
func TestHelp(t *testing.T) { clitest.CheckHelp(t, newRoot()) }
