//go:build ignore

// keygen writes a throwaway signing key pair for the bundle benchmark:
// go run bench/bundle/keygen.go DIR/NAME (passphrase from AIRSEAL_PASSPHRASE).
package main

import (
	"fmt"
	"os"

	"github.com/airseal/airseal/pkg/keys"
)

func main() {
	k, err := keys.Generate(nil)
	if err != nil {
		panic(err)
	}
	sealed, err := k.Seal([]byte(os.Getenv("AIRSEAL_PASSPHRASE")), &keys.SealOptions{LogN: 10})
	if err != nil {
		panic(err)
	}
	if err := os.WriteFile(os.Args[1]+".key", sealed, 0o600); err != nil {
		panic(err)
	}
	if err := os.WriteFile(os.Args[1]+".pub", k.Public().MarshalPublic(), 0o644); err != nil {
		panic(err)
	}
	fmt.Println(k.ID())
}
