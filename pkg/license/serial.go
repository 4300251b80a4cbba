package license

import (
	"strings"
)

// NormalizeSerial returns the canonical spelling of a serial typed by a
// person: a serial in the form issue generates (16 characters of Crockford's
// base32, "XXXX-XXXX-XXXX-XXXX") is accepted in lower case, with its dashes
// missing or misplaced, with spaces, and with Crockford's look-alikes
// (O for 0, I and L for 1), and returned upper case in four dashed groups.
// Any other serial (a vendor's own scheme) is returned trimmed of surrounding
// white space and otherwise unchanged. The second result is true when the
// serial has the generated form.
func NormalizeSerial(s string) (string, bool) {
	s = strings.TrimSpace(s)
	var b []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '-' || c == ' ' || c == '\t':
			continue
		case c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		}
		switch c {
		case 'O':
			c = '0'
		case 'I', 'L':
			c = '1'
		}
		if !strings.ContainsRune(serialAlphabet, rune(c)) {
			return s, false
		}
		b = append(b, c)
	}
	if len(b) != 16 {
		return s, false
	}
	return string(b[0:4]) + "-" + string(b[4:8]) + "-" + string(b[8:12]) + "-" + string(b[12:16]), true
}

const serialAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
