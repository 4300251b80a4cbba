package users

import (
	"os"
	"testing"
)

// TestMain uses cheap argon2id parameters so the tests stay fast; the
// production parameters are exercised by TestProductionParameters.
func TestMain(m *testing.M) {
	argonTime, argonMemory = 1, 8*1024
	dummyHash, _ = Hash("dummy-password")
	os.Exit(m.Run())
}

func TestProductionParameters(t *testing.T) {
	defer func(a, b uint32) { argonTime, argonMemory = a, b }(argonTime, argonMemory)
	argonTime, argonMemory = 3, 64*1024
	h, err := Hash("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if want := "$argon2id$v=19$m=65536,t=3,p=2$"; h[:len(want)] != want {
		t.Fatalf("PHC prefix %q", h)
	}
	if ok, err := Verify(h, "correct horse battery"); !ok || err != nil {
		t.Fatal("verify failed", err)
	}
}
