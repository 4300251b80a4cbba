package main

import (
	"os"
	"regexp"
	"strconv"
	"testing"

	"github.com/airseal/airseal/pkg/token"
)

// TestSpecReasonExits: the verification table of docs/spec/token-v1.md
// gives, for each refusal reason, the exit code token verify returns.
func TestSpecReasonExits(t *testing.T) {
	b, err := os.ReadFile("../../docs/spec/token-v1.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\|\\s*\\d+\\s*\\|.*\\|\\s*((?:`\\w+`,?\\s*)+)\\|\\s*(\\d+)\\s*\\|\\s*$")
	reason := regexp.MustCompile("`(\\w+)`")
	seen := map[token.Reason]bool{}
	for _, m := range row.FindAllStringSubmatch(string(b), -1) {
		code, _ := strconv.Atoi(m[2])
		for _, r := range reason.FindAllStringSubmatch(m[1], -1) {
			rs := token.Reason(r[1])
			seen[rs] = true
			got, ok := reasonExit[rs]
			if !ok {
				t.Errorf("spec reason %s: token verify has no exit code for it", rs)
			} else if got != code {
				t.Errorf("spec says %s exits %d; token verify exits %d", rs, code, got)
			}
		}
	}
	for rs := range reasonExit {
		if !seen[rs] {
			t.Errorf("reason %s exits %d but is not in the spec's verification table", rs, reasonExit[rs])
		}
	}
}
