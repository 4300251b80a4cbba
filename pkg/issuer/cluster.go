package issuer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/airseal/airseal/pkg/license"
)

// IsServerRequest reports whether data is a server license request (the
// server-request.json of license-server init) rather than a machine
// request of hwid: it is decided by content, never by the file's name,
// as a JSON object with a top-level "response_key" member.
func IsServerRequest(data []byte) bool {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' || len(data) > license.MaxServerRequest {
		return false
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(data, &m) != nil {
		return false
	}
	_, ok := m["response_key"]
	return ok
}

// NodeBinding is what one node of a server license binds, shown to the
// vendor before signing.
type NodeBinding struct {
	// Node is the node's name.
	Node string `json:"node"`
	// ResponseKeyID names the node's response key (as in the
	// Licence-Key header).
	ResponseKeyID string `json:"response_key_id"`
	// Source is where the node's request came from (a file name).
	Source string `json:"source,omitempty"`
	// Binding is the node's machine binding under the vendor's policy.
	Binding *Binding `json:"binding"`
}

// PrepareCluster checks an order for a seat server of one or more nodes
// (license-v2.md: 1 to license.MaxNodes) and builds one v2 license naming
// every node, with one seat count for the whole cluster. Each request is
// bound as PrepareServer binds one (the vendor's policy, never the
// request's rule); sources name the requests in errors (request[i] when
// empty). All requests must be for the same product; two requests with the
// same node name, the same response key or the same machine are refused.
// Errors about the order are *FieldError; a problem in one request names
// it in the field (request[2].node).
func PrepareCluster(o Order, reqs []*license.ServerRequest, sources []string, unit license.SeatUnit, now time.Time) (*ServerDraft, error) {
	if len(reqs) == 0 {
		return nil, fieldErrorf("request", "a server license is issued from the server's request (server-request.json written by license-server init)")
	}
	if len(reqs) > license.MaxNodes {
		return nil, fieldErrorf("request", "%d server requests; a server license names at most %d nodes (license-v2.md)", len(reqs), license.MaxNodes)
	}
	name := func(i int) string {
		if i < len(sources) && sources[i] != "" {
			return sources[i]
		}
		return fmt.Sprintf("request[%d]", i+1)
	}
	if o.Serial == "" {
		s, err := license.NewSerial(nil)
		if err != nil {
			return nil, err
		}
		o.Serial = s
	}
	var out *ServerDraft
	names, keyIDs, machines := map[string]int{}, map[string]int{}, map[string]int{}
	for i, r := range reqs {
		if r == nil {
			return nil, fieldErrorf("request", "%s: missing", name(i))
		}
		if j, ok := names[r.Node]; ok {
			return nil, fieldErrorf("request.node", "%s and %s both name node %q; run 'license-server init --node NAME' with a distinct name on each node", name(j), name(i), r.Node)
		}
		kid := license.ResponseKeyID(r.ResponseKey)
		if j, ok := keyIDs[kid]; ok {
			return nil, fieldErrorf("request.response_key", "%s and %s carry the same response key %s: the same server twice; every node needs its own 'license-server init --dir'", name(j), name(i), kid)
		}
		d, err := PrepareServer(o, r, unit, now)
		if err != nil {
			if fe, ok := err.(*FieldError); ok && len(reqs) > 1 {
				fe.Reason = fmt.Sprintf("%s (node %q): %s", name(i), r.Node, fe.Reason)
			}
			return nil, err
		}
		mid := d.Binding.MachineID
		if j, ok := machines[mid]; ok {
			return nil, fieldErrorf("request.fingerprint", "%s and %s describe the same machine %s: HA nodes must run on different machines", name(j), name(i), mid)
		}
		names[r.Node], keyIDs[kid], machines[mid] = i, i, i
		nb := NodeBinding{Node: r.Node, ResponseKeyID: kid, Source: sources0(sources, i), Binding: d.Binding}
		if out == nil {
			out = d
			out.Nodes = []NodeBinding{nb}
			// Every later node is checked against the first one's product.
			o.Product, o.Customer = d.License.Product, d.License.Customer.Name
			continue
		}
		out.License.Nodes = append(out.License.Nodes, d.License.Nodes...)
		out.Nodes = append(out.Nodes, nb)
		for _, w := range d.Warnings {
			out.Warnings = append(out.Warnings, fmt.Sprintf("node %s: %s", r.Node, w))
		}
	}
	if len(reqs) > 1 && len(out.Warnings) > 0 {
		// The first node's warnings were not prefixed yet.
		first := reqs[0].Node
		for i, w := range out.Warnings {
			if !bytes.HasPrefix([]byte(w), []byte("node ")) {
				out.Warnings[i] = fmt.Sprintf("node %s: %s", first, w)
			}
		}
	}
	sort.Slice(out.License.Nodes, func(a, b int) bool { return out.License.Nodes[a].Name < out.License.Nodes[b].Name })
	sort.Slice(out.Nodes, func(a, b int) bool { return out.Nodes[a].Node < out.Nodes[b].Node })
	if err := out.License.Validate(); err != nil {
		return nil, asFieldError(err)
	}
	return out, nil
}

func sources0(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return ""
}
