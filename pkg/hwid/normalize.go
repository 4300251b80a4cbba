package hwid

import (
	"encoding/hex"
	"regexp"
	"strings"
	"sync"
)

// collapse trims a value and collapses runs of white space to one space.
func collapse(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// placeholders are values firmware fills in when a field was never set
// (compared case-insensitively after collapse), and placeholderRE the
// patterns of more of them. Both are built on first use, not at package
// init: verify imports hwid and pays for every init on each start, also
// when the license is not bound to a machine.
var placeholders = sync.OnceValues(func() (map[string]bool, *regexp.Regexp) {
	m := map[string]bool{}
	for _, p := range []string{
		"To Be Filled By O.E.M.", "To be filled by O.E.M", "Default string", "O.E.M.", "OEM",
		"N/A", "NA", "None", "Not Specified", "Not Applicable", "Not Available", "Not Present",
		"Not Defined", "Unknown", "Unspecified", "System manufacturer", "System Product Name",
		"System Name", "System Version", "System Serial Number", "Base Board Serial Number",
		"Base Board Product Name", "Chassis Serial Number", "Chassis Manufacture",
		"Type2 - Board Serial Number", "Asset Tag", "No Asset Tag", "No Asset Information",
		"Default", "INVALID", "0", "00000000", "0000000000", "0123456789", "1234567890",
		"123456789", "12345678", "SN12345678", "xxxxxxxxxxxx", "Serial", "SerialNumber",
		"Empty", "Chassis Serial", "Board Serial", "Not Set", "$SerialNumber$",
	} {
		m[strings.ToLower(p)] = true
	}
	return m, regexp.MustCompile(`(?i)^(none|0+|0?1234567(8(90?)?)?)$|to be filled|sernum|part[_-]?number|not (specified|applicable|available|present|defined|provided)|^unknown$|unspecified|mkf_.*_no_`)
})

// normalizeString collapses white space and returns "" for placeholders and
// values that cannot identify a machine (shorter than 4 characters, or one
// character repeated).
func normalizeString(s string) string {
	s = collapse(s)
	if s == "" {
		return ""
	}
	if names, re := placeholders(); names[strings.ToLower(s)] || re.MatchString(s) {
		return ""
	}
	if len(s) < 4 || strings.Count(s, s[:1]) == len(s) {
		return ""
	}
	return s
}

// normalizeSerial is normalizeString for serial numbers: also drops values
// made only of punctuation and one repeated character after it is removed.
func normalizeSerial(s string) string {
	s = normalizeString(s)
	alnum := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return -1
	}, s)
	if len(alnum) < 4 || strings.Count(alnum, alnum[:1]) == len(alnum) {
		return ""
	}
	return s
}

// bogusUUIDs are shared by many machines (vendor defaults); a UUID is
// rejected when either of its byte orders is listed.
var bogusUUIDs = table[bool]{
	{"03000200-0400-0500-0006-000700080009", true}, // AMI default
	{"8a95d198-7f46-11e5-bf8b-08002704d48e", true}, // SolidRun LX2160A
}

// normalizeUUID returns the canonical form of an SMBIOS UUID, or "" when it
// identifies nothing. The kernel prints lower case now and upper case on
// old kernels; the first three fields are little-endian under SMBIOS 2.6 and
// later and big-endian before, so tools disagree on their byte order. The
// canonical form is lower case and, of the two byte orders, the one that
// sorts first: the same board gives the same value whichever way it was read.
// Nil, all-FF, known defaults and UUIDs with 10 or more zero bytes (a MAC
// padded with zeros, or half-filled boards) are rejected.
func normalizeUUID(s string) string {
	h := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(s), "-", ""))
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != 16 {
		return ""
	}
	zeros, ffs := 0, 0
	for _, x := range b {
		switch x {
		case 0:
			zeros++
		case 0xff:
			ffs++
		}
	}
	if zeros >= 10 || ffs == 16 {
		return ""
	}
	a, w := formatUUID(b), formatUUID(swapUUID(b))
	if bogusUUIDs.has(a) || bogusUUIDs.has(w) {
		return ""
	}
	return min(a, w)
}

func swapUUID(b []byte) []byte {
	s := append([]byte(nil), b...)
	s[0], s[1], s[2], s[3] = b[3], b[2], b[1], b[0]
	s[4], s[5] = b[5], b[4]
	s[6], s[7] = b[7], b[6]
	return s
}

func formatUUID(b []byte) string {
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// normalizeMAC returns a MAC address in lower case with colons, or "" when
// it does not identify a network card: all zeros, broadcast, multicast, or
// locally administered (random, cloned, or set by software).
func normalizeMAC(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	h := strings.NewReplacer(":", "", "-", "", ".", "").Replace(s)
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != 6 {
		return ""
	}
	if b[0]&0x01 != 0 || b[0]&0x02 != 0 {
		return ""
	}
	zero := true
	for _, x := range b {
		if x != 0 {
			zero = false
		}
	}
	if zero {
		return ""
	}
	out := make([]string, 6)
	for i, x := range b {
		out[i] = hex.EncodeToString([]byte{x})
	}
	return strings.Join(out, ":")
}

// dellServiceTag returns the service tag a Dell UUID encodes, or "".
// Dell UUIDs read 4c4c4544-00BB-CC10-80DD-AEc04fFFGGHH ("DELL" first): the
// tag is A (byte 10 without its top bit), then B, C, D, F, G, H. For example
// 4c4c4544-0059-4210-8056-b2c04f584b33 is service tag 2YBVXK3.
func dellServiceTag(uuid string) string {
	b, err := hex.DecodeString(strings.ReplaceAll(uuid, "-", ""))
	if err != nil || len(b) != 16 || string(b[:4]) != "LLED" {
		return ""
	}
	tag := make([]byte, 0, 7)
	for _, i := range []int{10, 5, 6, 9, 13, 14, 15} {
		x := b[i]
		if i == 10 {
			x &= 0x7f
		}
		if !(x >= '0' && x <= '9' || x >= 'A' && x <= 'Z') {
			return ""
		}
		tag = append(tag, x)
	}
	return string(tag)
}
