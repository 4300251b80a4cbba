package token

import (
	"errors"
	"strings"
	"testing"
)

func TestRevocationListSizeLimit(t *testing.T) {
	if err := checkListSize(MaxRevocationListSize + 1); !errors.Is(err, ErrRevocationListTooLarge) {
		t.Fatalf("oversized list signed: %v", err)
	}
	if err := checkListSize(MaxRevocationListSize); err != nil {
		t.Fatalf("list at the limit refused: %v", err)
	}
	ring := testVerifier(testKey(t, 1)).Keys
	big := strings.Repeat("A", MaxRevocationListSize+1)
	if _, err := ParseRevocations(ring, []byte(big), testIssuer); !errors.Is(err, ErrRevocationList) || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("oversized list parsed: %v", err)
	}
}
