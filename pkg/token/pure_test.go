package token

import (
	"os/exec"
	"strings"
	"testing"
)

// TestPure: the token package decides and does no I/O (issue 9 item 5):
// it imports neither os, net, net/http nor the packages that hold the
// directory and the endpoint, so a resource server that only verifies
// links none of them. Of internal/ it may import only strictjson, which
// checks bytes and does no I/O.
func TestPure(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{join .Imports " "}}`, ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, imp := range strings.Fields(string(out)) {
		switch {
		case imp == "github.com/airseal/airseal/internal/strictjson":
			// Pure JSON checks (encoding/json, reflect): no I/O.
		case imp == "os", imp == "net", imp == "net/http", imp == "syscall",
			strings.HasPrefix(imp, "github.com/airseal/airseal/pkg/token/"),
			strings.HasPrefix(imp, "github.com/airseal/airseal/internal/"):
			t.Errorf("package token imports %s", imp)
		}
	}
}
