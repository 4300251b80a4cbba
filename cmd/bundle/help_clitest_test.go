package main

import (
	"testing"

	"github.com/airseal/airseal/internal/cli/clitest"
)

// TestHelp: every bundle command has a description and an example, every flag
// that takes a value names what it takes, and --help ends with the exit
// table (issue 13 item 12, issue 9 item 6).
func TestHelp(t *testing.T) { clitest.CheckHelp(t, newRoot()) }
