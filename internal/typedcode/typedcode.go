// Package typedcode turns bytes into a code a person can read aloud or type
// from paper, and back, catching and locating typos.
//
// A code is a prefix naming what it carries, then groups of five characters
// separated by dashes: four data characters in Crockford's base32 alphabet
// (no I, L, O or U) and one check character (Luhn mod 32 over the group's
// position and its data). A single mistyped character, or two adjacent
// characters swapped, is caught by its group's check and reported with the
// group's number. A CRC-32 of the whole payload, appended before encoding,
// catches what slips past the group checks (such as a group typed twice).
//
// Decoding forgives case, spaces, line breaks, missing dashes, and the
// look-alikes O (read as 0) and I or L (read as 1).
package typedcode

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"
)

const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// GroupData is the number of data characters in a group.
const GroupData = 4

var value [256]int8

func init() {
	for i := range value {
		value[i] = -1
	}
	for i := 0; i < len(alphabet); i++ {
		value[alphabet[i]] = int8(i)
		value[strings.ToLower(alphabet[i : i+1])[0]] = int8(i)
	}
	for _, p := range []struct {
		c byte
		v byte
	}{{'O', '0'}, {'o', '0'}, {'I', '1'}, {'i', '1'}, {'L', '1'}, {'l', '1'}} {
		value[p.c] = value[p.v]
	}
}

// ErrChecksum means every group passed its check but the whole code's CRC did
// not: groups are missing, repeated or out of order.
var ErrChecksum = errors.New("code checksum does not match: a group is missing, repeated or out of order")

// TypoError locates a typo: the group (1-based) whose check failed.
type TypoError struct {
	Group  int    // 1-based group number, not counting the prefix
	Groups int    // how many groups the code has
	Text   string // the group as typed
}

// Error says which group to retype.
func (e *TypoError) Error() string {
	return fmt.Sprintf("typo in group %d of %d (%q): its check character does not match; retype that group", e.Group, e.Groups, e.Text)
}

// checkChar computes the Luhn mod 32 check value over the group index and data values.
func checkChar(index int, data []int) int {
	// Luhn mod 32 over (index digits..., data...), doubling from the right.
	factor, sum := 2, 0
	add := func(v int) {
		a := factor * v
		factor ^= 3 // 2 <-> 1
		sum += a>>5 + a&31
	}
	for i := len(data) - 1; i >= 0; i-- {
		add(data[i])
	}
	add((index >> 10) & 31)
	add((index >> 5) & 31)
	add(index & 31)
	return (32 - sum&31) & 31
}

// Encode returns the code for data with the given prefix. The prefix must be
// upper-case letters and digits and is matched exactly by Decode.
func Encode(prefix string, data []byte) string {
	payload := binary.BigEndian.AppendUint32(append([]byte(nil), data...), crc32.ChecksumIEEE(data))
	// base32 without padding, 5 bits per character, most significant first.
	var digits []int
	var acc uint32
	bits := 0
	for _, b := range payload {
		acc = acc<<8 | uint32(b)
		bits += 8
		for bits >= 5 {
			digits = append(digits, int(acc>>(bits-5))&31)
			bits -= 5
		}
	}
	if bits > 0 {
		digits = append(digits, int(acc<<(5-bits))&31)
	}
	var b strings.Builder
	b.WriteString(prefix)
	for g := 0; g*GroupData < len(digits); g++ {
		end := min((g+1)*GroupData, len(digits))
		grp := digits[g*GroupData : end]
		b.WriteByte('-')
		for _, d := range grp {
			b.WriteByte(alphabet[d])
		}
		b.WriteByte(alphabet[checkChar(g, grp)])
	}
	return b.String()
}

// HasPrefix reports whether s looks like a code with the given prefix.
func HasPrefix(s, prefix string) bool {
	s = strings.TrimSpace(s)
	return len(s) > len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) && (s[len(prefix)] == '-' || s[len(prefix)] == ' ')
}

// Decode checks and decodes a code with the given prefix.
func Decode(prefix, code string) ([]byte, error) {
	code = strings.TrimSpace(code)
	if !HasPrefix(code, prefix) {
		return nil, fmt.Errorf("not a code of this kind: it must start with %q", prefix+"-")
	}
	clean := make([]byte, 0, len(code))
	for i := len(prefix); i < len(code); i++ {
		switch c := code[i]; c {
		case '-', ' ', '\t', '\r', '\n':
		default:
			clean = append(clean, c)
		}
	}
	const gl = GroupData + 1
	ngroups := (len(clean) + gl - 1) / gl
	if ngroups == 0 || len(clean)%gl == 1 {
		return nil, fmt.Errorf("code is truncated: %d characters after the prefix do not make whole groups of %d", len(clean), gl)
	}
	out := make([]byte, 0, len(clean)*GroupData*5/(gl*8)+1)
	var acc uint32
	bits := 0
	var vals [gl]int
	for g := 0; g < ngroups; g++ {
		text := clean[g*gl : min((g+1)*gl, len(clean))]
		n := len(text)
		for i := 0; i < n; i++ {
			v := value[text[i]]
			if v < 0 {
				return nil, &TypoError{Group: g + 1, Groups: ngroups, Text: string(text)}
			}
			vals[i] = int(v)
		}
		if checkChar(g, vals[:n-1]) != vals[n-1] {
			return nil, &TypoError{Group: g + 1, Groups: ngroups, Text: string(text)}
		}
		for _, d := range vals[:n-1] {
			acc = acc<<5 | uint32(d)
			bits += 5
			if bits >= 8 {
				out = append(out, byte(acc>>(bits-8)))
				bits -= 8
			}
		}
	}
	// Leftover bits must be zero padding of fewer than 5 bits.
	if bits >= 5 || acc&(1<<bits-1) != 0 {
		return nil, ErrChecksum
	}
	if len(out) < 4 {
		return nil, fmt.Errorf("code is too short")
	}
	data, sum := out[:len(out)-4], binary.BigEndian.Uint32(out[len(out)-4:])
	if crc32.ChecksumIEEE(data) != sum {
		return nil, ErrChecksum
	}
	return data, nil
}
