package token

import "testing"

func TestBitrixUserID(t *testing.T) {
	for sub, want := range map[string]any{"1": int64(1), "42": int64(42), "007": "007", "+7": "+7", "svc:connector": "svc:connector", "-3": int64(-3)} {
		r := NewBitrixResponse("t", &Claims{Subject: sub, Audience: Audience{testAud}}, "", "", testNow)
		if r.UserID != want {
			t.Errorf("sub %q: user_id %#v, want %#v", sub, r.UserID, want)
		}
	}
}

// TestBitrixDomain: as in real oauth.bitrix.info answers, domain is the host
// of server_endpoint, and server_endpoint is never empty (issue 8 item 20).
func TestBitrixDomain(t *testing.T) {
	c := &Claims{Subject: "1", Audience: Audience{testAud}}
	r := NewBitrixResponse("t", c, "", "", testNow)
	if r.ServerEndpoint != "https://oauth.bitrix.info/rest/" || r.Domain != "oauth.bitrix.info" || r.ClientEndpoint != testAud {
		t.Errorf("default: server_endpoint %q domain %q client_endpoint %q", r.ServerEndpoint, r.Domain, r.ClientEndpoint)
	}
	r = NewBitrixResponse("t", c, "", "https://auth.portal.local:8443/rest/", testNow)
	if r.Domain != "auth.portal.local:8443" {
		t.Errorf("domain %q, want the host of server_endpoint", r.Domain)
	}
}
