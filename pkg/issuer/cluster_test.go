package issuer

import (
	"crypto/ed25519"
	"fmt"
	"strings"
	"testing"

	"github.com/airseal/airseal/pkg/hwid"
	"github.com/airseal/airseal/pkg/keys"
	"github.com/airseal/airseal/pkg/license"
)

// clusterRequest is node i's server request: its own name, response key
// and machine (the first component's hash differs).
func clusterRequest(t *testing.T, i int) *license.ServerRequest {
	t.Helper()
	seed := make([]byte, 32)
	seed[0] = byte(i + 1)
	pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
	r := testRequest(t, func(r *hwid.Request) {
		h := r.Fingerprint.Components[0].Hash
		r.Fingerprint.Components[0].Hash = fmt.Sprintf("%02x", i) + h[2:]
	})
	return &license.ServerRequest{Request: *r, Node: fmt.Sprintf("node%02d", 20-i), ResponseKey: pub}
}

func TestPrepareClusterNamesEveryNode(t *testing.T) {
	reqs := []*license.ServerRequest{clusterRequest(t, 0), clusterRequest(t, 1), clusterRequest(t, 2)}
	d, err := PrepareCluster(Order{Customer: "c", Seats: 200}, reqs, []string{"a.json", "b.json", "c.json"}, license.PerComputer, testNow)
	if err != nil {
		t.Fatal(err)
	}
	s := d.License
	if len(s.Nodes) != 3 || len(d.Nodes) != 3 || s.Seats != 200 || s.SeatUnit != license.PerComputer {
		t.Fatalf("nodes %d/%d seats %d unit %s", len(s.Nodes), len(d.Nodes), s.Seats, s.SeatUnit)
	}
	// Sorted by name (node18, node19, node20), each with its own key and machine.
	for i, want := range []int{2, 1, 0} {
		n := s.Nodes[i]
		if n.Name != reqs[want].Node || !n.ResponseKey.Equal(reqs[want].ResponseKey) || n.Machine == nil {
			t.Fatalf("node %d: %+v, want request %d", i, n, want)
		}
		if d.Nodes[i].Node != n.Name || d.Nodes[i].Source != []string{"a.json", "b.json", "c.json"}[want] || len(d.Nodes[i].ResponseKeyID) != 16 {
			t.Fatalf("binding %d: %+v", i, d.Nodes[i])
		}
	}
	is := testIssuer(t)
	out, err := is.IssueServer(d)
	if err != nil {
		t.Fatal(err)
	}
	v, err := license.VerifyServer(out.Armored, license.VerifyOptions{Keyring: keys.NewKeyring(is.Key.Public()), Now: testNow})
	if err != nil || len(v.Nodes) != 3 {
		t.Fatalf("verify: %v", err)
	}
	rec, _, err := is.Ledger.Find(v.Serial)
	if err != nil || rec == nil || strings.Count(rec.Machine, ",") != 2 {
		t.Fatalf("ledger machine column: %+v %v", rec, err)
	}
}

func TestPrepareClusterRefuses(t *testing.T) {
	a, b := clusterRequest(t, 0), clusterRequest(t, 1)
	sameName := *b
	sameName.Node = a.Node
	sameKey := *b
	sameKey.ResponseKey = a.ResponseKey
	sameMachine := *clusterRequest(t, 0)
	sameMachine.Node, sameMachine.ResponseKey = b.Node, b.ResponseKey
	vm := clusterRequest(t, 3)
	vm.Virtualization = hwid.Verdict{Type: hwid.TypeVM, Technology: "kvm", Evidence: []string{}}
	other := clusterRequest(t, 4)
	other.Product = "Another"
	var tooMany []*license.ServerRequest
	for i := 0; i <= license.MaxNodes; i++ {
		tooMany = append(tooMany, clusterRequest(t, i))
	}
	for _, c := range []struct {
		name  string
		reqs  []*license.ServerRequest
		field string
		text  string
	}{
		{"none", nil, "request", "server-request.json"},
		{"same name", []*license.ServerRequest{a, &sameName}, "request.node", `both name node "node20"`},
		{"same key", []*license.ServerRequest{a, &sameKey}, "request.response_key", "the same response key"},
		{"same machine", []*license.ServerRequest{a, &sameMachine}, "request.fingerprint", "the same machine"},
		{"vm", []*license.ServerRequest{a, vm}, "request.virtualization", `request[2] (node "node17")`},
		{"product", []*license.ServerRequest{a, other}, "request.product", `not "`},
		{"too many", tooMany, "request", fmt.Sprintf("at most %d nodes", license.MaxNodes)},
	} {
		_, err := PrepareCluster(Order{Customer: "c"}, c.reqs, nil, 0, testNow)
		if fieldOf(err) != c.field || !strings.Contains(err.Error(), c.text) {
			t.Errorf("%s: got %v, want field %s with %q", c.name, err, c.field, c.text)
		}
	}
}

func TestIsServerRequest(t *testing.T) {
	srv, err := clusterRequest(t, 0).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	machine, err := testRequest(t, nil).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		data string
		want bool
	}{
		{string(srv), true}, {"  \n" + string(srv), true}, {string(machine), false},
		{"", false}, {"ASR1-AAAAA", false}, {`{"response_key": 1`, false}, {`["response_key"]`, false},
	} {
		if got := IsServerRequest([]byte(c.data)); got != c.want {
			t.Errorf("IsServerRequest(%.40q) = %v, want %v", c.data, got, c.want)
		}
	}
}
