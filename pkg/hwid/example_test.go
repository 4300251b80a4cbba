package hwid_test

import (
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/airseal/airseal/pkg/hwid"
)

// Collect this machine for a product, refuse virtual machines, and check it
// against a recorded fingerprint.
func ExampleCollect() {
	rep, err := hwid.Collect(hwid.Options{Product: "acme-db"})
	if err != nil {
		log.Fatal(err)
	}
	if err := rep.Virtualization.Err(); err != nil {
		// errors.Is(err, hwid.ErrVirtual); the message names the evidence.
		log.Fatal(err)
	}
	fmt.Println("machine", rep.ID())
	bound := rep.Fingerprint // in practice: from a signed license
	if r := rep.Match(bound); !r.OK {
		log.Fatalf("not the licensed machine: %s", r)
	}
}

// Read a license request from its file (or from its ASR1 typed code).
func ExampleParseRequest() {
	data, err := os.ReadFile("testdata/request-v1.json")
	if err != nil {
		log.Fatal(err)
	}
	req, err := hwid.ParseRequest(data)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(req.Product, req.Customer, req.Fingerprint.ID(), req.Virtualization.Type)
	fmt.Printf("%d components, %d of weight %d must match\n", len(req.Fingerprint.Components), req.Fingerprint.Need, req.Fingerprint.Total())

	code, err := req.Code()
	if err != nil {
		log.Fatal(err)
	}
	same, err := hwid.ParseRequest([]byte(code))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(same.Fingerprint.ID() == req.Fingerprint.ID(), same.Nonce == req.Nonce)
	// Output:
	// acme-db Example Corp 8D1E0-2C325-C35E1-7232F none
	// 7 components, 8 of weight 11 must match
	// true true
}

func ExampleVerdict_Err() {
	v := hwid.Verdict{Type: hwid.TypeVM, Technology: "kvm", Evidence: []string{`CPUID leaf 0x40000000 "KVMKVMKVM"`}}
	err := v.Err()
	fmt.Println(errors.Is(err, hwid.ErrVirtual))
	fmt.Println(err)
	// Output:
	// true
	// not a physical machine: this is a virtual machine (kvm): CPUID leaf 0x40000000 "KVMKVMKVM"
}
