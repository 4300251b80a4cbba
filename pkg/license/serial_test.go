package license

import "testing"

func TestNormalizeSerial(t *testing.T) {
	for _, tt := range []struct {
		in, want  string
		generated bool
	}{
		{"7K3M-Q9TX-4HZP-2W8R", "7K3M-Q9TX-4HZP-2W8R", true},
		{"7k3mq9tx4hzp2w8r", "7K3M-Q9TX-4HZP-2W8R", true},
		{" 7K3 M-Q9TX4-HZP-2W8r ", "7K3M-Q9TX-4HZP-2W8R", true},
		{"7K3M-Q9TX-4HZP-2WBO", "7K3M-Q9TX-4HZP-2WB0", true},
		{"LIC-1", "LIC-1", false},
		{"7K3M-Q9TX-4HZP-2W8", "7K3M-Q9TX-4HZP-2W8", false},
		{"7K3M-Q9TX-4HZP-2W8U", "7K3M-Q9TX-4HZP-2W8U", false},
	} {
		got, gen := NormalizeSerial(tt.in)
		if got != tt.want || gen != tt.generated {
			t.Errorf("NormalizeSerial(%q) = %q, %v; want %q, %v", tt.in, got, gen, tt.want, tt.generated)
		}
	}
}
