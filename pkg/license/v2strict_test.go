package license

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

// TestServerRequestRefusesCaseVariants (issue 10): a server request with
// a member named in another case or given twice is refused: the issuer
// must not read a response key or a node name that another reader of the
// same file would not.
func TestServerRequestRefusesCaseVariants(t *testing.T) {
	good, err := sampleServerRequest().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseServerRequest(good); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`"([a-z_]+)":`).FindSubmatch(good)
	if m == nil {
		t.Fatalf("no member in %s", good)
	}
	name := string(m[1])
	for _, bad := range [][]byte{
		bytes.Replace(good, []byte(`"`+name+`":`), []byte(`"`+strings.ToUpper(name)+`":`), 1),
		bytes.Replace(good, []byte(`{`), []byte(`{"`+strings.ToUpper(name)+`":null,`), 1),
	} {
		if _, err := ParseServerRequest(bad); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}
