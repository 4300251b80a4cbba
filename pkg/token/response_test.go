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
