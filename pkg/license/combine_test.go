package license

import (
	"errors"
	"testing"
	"time"
)

func TestCombine(t *testing.T) {
	main := &License{Serial: "M", Product: "P", Kind: KindMain, Seats: 5,
		Features: []Feature{{Name: "export", IsBool: true}, {Name: "max_documents", Value: 100}}}
	add := &License{Serial: "A", Product: "P", Kind: KindAdditional, MainSerial: "M", Seats: 10,
		Features: []Feature{{Name: "export", Value: 1, IsBool: true}, {Name: "max_documents", Value: 50}, {Name: "scanner", Value: 1, IsBool: true}}}
	exp := tIssued.Add(30 * 24 * time.Hour)
	demo := &License{Serial: "D", Product: "P", Kind: KindDemo, Seats: 1, Expires: &exp}
	e, err := Combine([]*License{main, add})
	if err != nil {
		t.Fatal(err)
	}
	if e.Seats != 15 || !e.Enabled("export") || !e.Enabled("scanner") {
		t.Errorf("combined = %+v", e)
	}
	if v, _ := e.Limit("max_documents"); v != 100 {
		t.Errorf("max_documents = %d, want the larger 100", v)
	}
	if e, err := Combine([]*License{demo}); err != nil || e.Seats != 1 {
		t.Errorf("demo alone: %+v, %v", e, err)
	}
	other := *main
	other.Product, other.Serial = "Q", "Q1"
	for name, set := range map[string][]*License{
		"demo with main":          {main, demo},
		"additional without main": {add},
		"two products":            {main, &other},
		"same license twice":      {main, main},
		"empty":                   nil,
	} {
		if _, err := Combine(set); !errors.Is(err, ErrIncompatible) {
			t.Errorf("%s: err = %v, want ErrIncompatible", name, err)
		}
	}
}
