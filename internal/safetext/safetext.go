// Package safetext holds the one rule for the free-text fields that are
// signed and later shown to people: product names, customer names, serials.
// Such text is printed on terminals and in logs, so it must not be able to
// move the cursor, clear the screen or reorder what is shown.
//
// Check refuses text that breaks the rule (for fields a tool creates or
// signs); Clean makes any text from outside safe to print (for fields a tool
// only shows).
package safetext

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxLen is the longest field accepted, in bytes.
const MaxLen = 256

// Check accepts s when it is valid UTF-8 of at most MaxLen bytes with no
// forbidden character. The forbidden characters, all of them:
//
//   - C0 controls U+0000–U+001F (tab, line feed and escape included);
//   - DEL U+007F;
//   - C1 controls U+0080–U+009F (U+0085 next line and U+009B, the
//     one-character escape sequence introducer, included);
//   - the bidirectional formatting characters U+061C, U+200E, U+200F,
//     U+202A–U+202E and U+2066–U+2069, which could make one product name
//     look like another.
//
// Spaces and every script are allowed. field names the field in the error.
func Check(field, s string) error {
	if len(s) > MaxLen {
		return fmt.Errorf("%s: %d bytes, at most %d", field, len(s), MaxLen)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s: not valid UTF-8", field)
	}
	for _, r := range s {
		if IsControl(r) {
			return fmt.Errorf("%s: contains control character %U", field, r)
		}
		if IsBidi(r) {
			return fmt.Errorf("%s: contains bidirectional formatting character %U", field, r)
		}
	}
	return nil
}

// IsControl reports the control characters Check refuses: C0 (U+0000–U+001F),
// DEL (U+007F) and C1 (U+0080–U+009F).
func IsControl(r rune) bool {
	return r < 0x20 || r >= 0x7f && r <= 0x9f
}

// IsBidi reports the bidirectional formatting characters Check refuses.
func IsBidi(r rune) bool {
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

// Clean returns s made safe to print and to carry in a field Check
// accepts: each byte of invalid UTF-8 becomes \xNN, each character Check
// refuses becomes \xNN (below U+0100) or \uNNNN, and a backslash stays
// as it is; the result is cut to MaxLen bytes on a character boundary
// (ending in "..." when cut). Text Check accepts comes back unchanged.
func Clean(s string) string {
	if Check("", s) == nil {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case IsControl(r) && r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		case IsBidi(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += max(n, 1)
	}
	out := b.String()
	if len(out) > MaxLen {
		cut := MaxLen - 3
		for cut > 0 && !utf8.RuneStart(out[cut]) {
			cut--
		}
		out = out[:cut] + "..."
	}
	return out
}
