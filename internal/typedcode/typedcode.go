// Package typedcode turns bytes into a code a person can read aloud or type
// from paper, and back, catching and locating typos.
//
// A code is a prefix naming what it carries, then groups of five characters
// separated by dashes: up to four data characters in Crockford's base32
// alphabet (no I, L, O or U) and one check character. The check character
// is a Damm check over GF(32) of the group's position and its data: every
// single mistyped character and every swap of two adjacent characters in a
// group is caught by that group's check and reported with the group's
// number. A CRC-32 of the whole payload, appended before encoding, catches
// what slips past the group checks (such as a group typed twice).
//
// Decoding forgives case, spaces, line breaks, dashes missing or misplaced,
// and the look-alikes O (read as 0) and I or L (read as 1). Codes written
// by airseal 1.0, whose group check was Luhn mod 32, are still read.
//
// The algorithm, with a worked example, is docs/spec/typedcode-v1.md.
package typedcode

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
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
		c := alphabet[i]
		value[c] = int8(i)
		if c >= 'A' && c <= 'Z' {
			value[c|0x20] = int8(i) // lower case, without allocating at init
		}
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

// gfMul2 multiplies v by x (the element 2) in GF(32) = GF(2)[x]/(x⁵+x²+1):
// shift left and, when bit 5 is set, reduce by 0b100101.
func gfMul2(v int) int {
	v <<= 1
	if v&32 != 0 {
		v ^= 0b100101
	}
	return v
}

// positionDigits are the three base32 digits of the group index (0-based,
// modulo 32768), most significant first, that start every group's check.
func positionDigits(index int) [3]int {
	return [3]int{(index >> 10) & 31, (index >> 5) & 31, index & 31}
}

// checkChar computes the Damm check digit over the quasigroup
// x∘y = 2·x ⊕ y of order 32 (totally anti-symmetric, because 2 ∉ {0, 1}):
// starting from 0, fold in the three position digits, then the data digits;
// the check digit c is the one that brings the fold to 0, c = 2·interim.
func checkChar(index int, data []int) int {
	interim := 0
	for _, d := range positionDigits(index) {
		interim = gfMul2(interim) ^ d
	}
	for _, d := range data {
		interim = gfMul2(interim) ^ d
	}
	return gfMul2(interim)
}

// legacyCheckChar is the group check of airseal 1.0 codes (Luhn mod 32 over
// the position digits and the data, doubling from the right). It is only
// read, never written: it misses some adjacent swaps, such as 0 and Z.
func legacyCheckChar(index int, data []int) int {
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

// Len returns the length in characters (prefix and dashes included) of the
// code Encode writes for n bytes of data.
func Len(prefix string, n int) int {
	digits := ((n+4)*8 + 4) / 5
	groups := (digits + GroupData - 1) / GroupData
	return len(prefix) + groups + digits + groups
}

// isSeparator reports whether r is ignored wherever it stands in a code: a
// dash, ASCII white space, a no-break space, or a Unicode hyphen or dash
// (what word processors turn "-" into when a code is pasted through them).
func isSeparator(r rune) bool {
	switch r {
	case '-', ' ', '\t', '\r', '\n', '\v', '\f',
		'\u00a0', '\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2212':
		return true
	}
	return false
}

// compact returns s with every separator removed, the prefix checked (in
// any case) and upper-cased, and the rest unchanged; ok is false when s
// without separators does not start with the prefix.
func compact(s, prefix string) (rest string, ok bool) {
	var b strings.Builder
	for _, r := range s {
		if isSeparator(r) {
			continue
		}
		if b.Len() == len(prefix) {
			// The prefix is complete: check it before copying the rest,
			// so that a large input that is not a code costs little.
			if !strings.EqualFold(b.String(), prefix) {
				return "", false
			}
			b.Grow(len(s))
		}
		b.WriteRune(r)
	}
	c := b.String()
	if len(c) < len(prefix) || !strings.EqualFold(c[:len(prefix)], prefix) {
		return "", false
	}
	return c[len(prefix):], true
}

// Normalize is the one test of whether s is meant as a code with the given
// prefix, and its canonical spelling: every tool that takes a code, or a
// file name or a code, decides with it (through LooksLike or IsArg).
//
// s is a code when, with every separator (dashes, white space and line
// breaks, wherever they stand, also inside the prefix) removed, it starts
// with the prefix in any case and every other character is a code
// character (Crockford base32 or its look-alikes O, I and L, in either
// case), with at least one of them. A file name with a dot, a slash or an
// underscore is never a code.
//
// The canonical spelling is the prefix, then groups of five characters in
// upper case with look-alikes replaced, each after a dash: what Encode
// writes for a correctly typed code. Normalize does not check the code;
// Decode does.
func Normalize(s, prefix string) (string, bool) {
	rest, ok := compact(s, prefix)
	if !ok || rest == "" {
		return "", false
	}
	var b strings.Builder
	b.Grow(len(prefix) + len(rest) + len(rest)/5 + 1)
	b.WriteString(prefix)
	for i := 0; i < len(rest); i++ {
		v := value[rest[i]]
		if v < 0 {
			return "", false
		}
		if i%(GroupData+1) == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(alphabet[v])
	}
	return b.String(), true
}

// LooksLike reports whether s is meant as a code with the given prefix
// rather than, say, a file name or JSON (see Normalize).
func LooksLike(s, prefix string) bool {
	_, ok := Normalize(s, prefix)
	return ok
}

// IsArg decides whether a command-line argument that takes a file name or
// a code is a code: it looks like one (Normalize) and no file of that name
// exists. A file wins over a code-shaped name ("asl1-license" is a valid
// short code and a plausible file name); a real code is far longer than any
// file name a system allows, so the file test never hides one.
func IsArg(arg, prefix string) bool {
	if !LooksLike(arg, prefix) {
		return false
	}
	_, err := os.Lstat(arg)
	return err != nil
}

// group is one group of a code as typed: its text and digit values.
type group struct {
	text string
	vals []int // data digits, then the check digit
}

// Decode checks and decodes a code with the given prefix. Case, white space
// and dashes (missing, doubled or misplaced, also inside the prefix) do not
// matter: after the prefix, the characters are read in groups of five.
func Decode(prefix, code string) ([]byte, error) {
	rest, ok := compact(code, prefix)
	if !ok {
		return nil, fmt.Errorf("not a code of this kind: it must start with %q", prefix+"-")
	}
	clean := []byte(rest)
	const gl = GroupData + 1
	ngroups := (len(clean) + gl - 1) / gl
	if ngroups == 0 || len(clean)%gl == 1 {
		return nil, fmt.Errorf("code is truncated: %d characters after the prefix do not make whole groups of %d (the last group may be shorter, but has at least one data character and its check character)", len(clean), gl)
	}
	groups := make([]group, ngroups)
	all := make([]int, len(clean))
	for g := range groups {
		lo, hi := g*gl, min((g+1)*gl, len(clean))
		text := string(clean[lo:hi])
		for i := lo; i < hi; i++ {
			v := value[clean[i]]
			if v < 0 {
				return nil, &TypoError{Group: g + 1, Groups: ngroups, Text: text}
			}
			all[i] = int(v)
		}
		groups[g] = group{text: text, vals: all[lo:hi]}
	}
	if err := checkGroups(groups); err != nil {
		return nil, err
	}
	return unpack(groups)
}

// checkGroups runs every group's check. A code in which at least two
// groups fail the Damm check but every group passes the airseal 1.0 check
// is read as a 1.0 code (its CRC still has to match). A typo is located
// with the check that fails in fewer groups: one typo in a current code
// fails exactly one Damm check, so it is always located by it.
func checkGroups(groups []group) error {
	firstBad, bad, firstLegacyBad, legacyBad := -1, 0, -1, 0
	for g, grp := range groups {
		n := len(grp.vals) - 1
		if checkChar(g, grp.vals[:n]) != grp.vals[n] {
			bad++
			if firstBad < 0 {
				firstBad = g
			}
		}
		if legacyCheckChar(g, grp.vals[:n]) != grp.vals[n] {
			legacyBad++
			if firstLegacyBad < 0 {
				firstLegacyBad = g
			}
		}
	}
	switch {
	case bad == 0:
		return nil
	case legacyBad == 0 && bad >= 2:
		return nil // an airseal 1.0 code
	case legacyBad > 0 && legacyBad < bad:
		firstBad = firstLegacyBad
	}
	return &TypoError{Group: firstBad + 1, Groups: len(groups), Text: groups[firstBad].text}
}

// unpack turns checked groups into the payload and checks its CRC.
func unpack(groups []group) ([]byte, error) {
	out := make([]byte, 0, len(groups)*GroupData*5/8+1)
	var acc uint32
	bits := 0
	for _, grp := range groups {
		for _, d := range grp.vals[:len(grp.vals)-1] {
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
