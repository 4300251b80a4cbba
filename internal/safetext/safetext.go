// Package safetext holds the one rule for the free-text fields that are
// signed and later shown to people: product names, customer names, serials.
// Such text is printed on terminals and in logs, so it must not be able to
// move the cursor, clear the screen or reorder what is shown.
package safetext

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// MaxLen is the longest field accepted, in bytes.
const MaxLen = 256

// Check accepts s when it is valid UTF-8 of at most MaxLen bytes with no
// control characters (C0, DEL and C1, which include terminal escape
// introducers such as U+009B) and no bidirectional formatting characters
// (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069), which could make
// one product name look like another. Spaces and every script are allowed.
// field names the field in the error.
func Check(field, s string) error {
	if len(s) > MaxLen {
		return fmt.Errorf("%s: %d bytes, at most %d", field, len(s), MaxLen)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s: not valid UTF-8", field)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Errorf("%s: contains control character %U", field, r)
		}
		if isBidi(r) {
			return fmt.Errorf("%s: contains bidirectional formatting character %U", field, r)
		}
	}
	return nil
}

func isBidi(r rune) bool {
	switch {
	case r == 0x061C, r == 0x200E, r == 0x200F:
		return true
	case r >= 0x202A && r <= 0x202E:
		return true
	case r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}
