package typedcode

import (
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// specSection returns section "## N. ..." of docs/spec/typedcode-v1.md.
func specSection(t *testing.T, n int) string {
	t.Helper()
	b, err := os.ReadFile("../../docs/spec/typedcode-v1.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	start := strings.Index(s, fmt.Sprintf("\n## %d. ", n))
	if start < 0 {
		t.Fatalf("spec has no section %d", n)
	}
	end := strings.Index(s[start+1:], "\n## ")
	if end < 0 {
		return s[start:]
	}
	return s[start : start+1+end]
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	v, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		t.Fatalf("spec number %q: %v", s, err)
	}
	return v
}

// Issue 8 item 13: every number of the spec's worked example (section 6)
// is the one the code computes: the CRC, the payload bytes, the digits and
// their characters, each fold step and each check digit, every mul2 and XOR
// written out, the code, and the swapped example's failing fold. An
// implementer following the example by hand gets what Encode writes.
func TestSpecWorkedExampleNumbers(t *testing.T) {
	sec := specSection(t, 6)
	data := []byte("Hi")

	// 1. CRC and payload.
	crc := crc32.ChecksumIEEE(data)
	m := regexp.MustCompile("CRC-32\\(\"Hi\"\\) = `0x([0-9A-F]{8})`").FindStringSubmatch(sec)
	if m == nil || m[1] != fmt.Sprintf("%08X", crc) {
		t.Fatalf("spec CRC %v, code %08X", m, crc)
	}
	payload := append(append([]byte(nil), data...), byte(crc>>24), byte(crc>>16), byte(crc>>8), byte(crc))
	m = regexp.MustCompile("payload\\s+`([0-9A-F ]+)`").FindStringSubmatch(sec)
	if m == nil || strings.ReplaceAll(m[1], " ", "") != strings.ToUpper(hex.EncodeToString(payload)) {
		t.Fatalf("spec payload %v, code % X", m, payload)
	}

	// 2. Bits, digits and characters: the code block's three lines.
	var bits strings.Builder
	for _, b := range payload {
		fmt.Fprintf(&bits, "%08b", b)
	}
	block := regexp.MustCompile("(?s)```\\n(.*?)```").FindStringSubmatch(sec)
	if block == nil {
		t.Fatal("no digit block in section 6")
	}
	lines := strings.Split(strings.TrimSpace(block[1]), "\n")
	if len(lines) != 3 {
		t.Fatalf("digit block has %d lines, want 3", len(lines))
	}
	bitGroups := strings.Fields(strings.NewReplacer("(", "", ")", "").Replace(lines[0]))
	digitVals := strings.Fields(lines[1])
	chars := strings.Fields(lines[2])
	code := Encode("ASL1", data)
	var digits []int
	for _, g := range strings.Split(code, "-")[1:] {
		for _, c := range g[:len(g)-1] {
			digits = append(digits, int(value[c]))
		}
	}
	if len(bitGroups) != len(digits) || len(digitVals) != len(digits) || len(chars) != len(digits) {
		t.Fatalf("spec lists %d/%d/%d digits, code has %d", len(bitGroups), len(digitVals), len(chars), len(digits))
	}
	padded := bits.String() + strings.Repeat("0", 5*len(digits)-bits.Len())
	for i, d := range digits {
		if bitGroups[i] != padded[5*i:5*i+5] || atoi(t, digitVals[i]) != d || chars[i] != string(alphabet[d]) {
			t.Errorf("digit %d: spec %s %s %s, code %s %d %c", i, bitGroups[i], digitVals[i], chars[i], padded[5*i:5*i+5], d, alphabet[d])
		}
	}

	// 4. The table: per group, the inputs, r after each data digit, and the
	// check digit with its character.
	rows := regexp.MustCompile("(?m)^\\s*\\| (\\d+) \\| ([\\d ]+), ([\\d ]+) \\| (.*) \\| (.*) = `(.)` \\|$").FindAllStringSubmatch(sec, -1)
	groups := strings.Split(code, "-")[1:]
	if len(rows) != len(groups) {
		t.Fatalf("spec table has %d groups, the code %d", len(rows), len(groups))
	}
	for _, row := range rows {
		g := atoi(t, row[1])
		pos := positionDigits(g)
		if want := fmt.Sprintf("%d %d %d", pos[0], pos[1], pos[2]); row[2] != want {
			t.Errorf("group %d: spec position digits %q, code %q", g, row[2], want)
		}
		var grp []int
		for _, f := range strings.Fields(row[3]) {
			grp = append(grp, atoi(t, f))
		}
		for i, c := range groups[g][:len(groups[g])-1] {
			if i >= len(grp) || grp[i] != int(value[c]) {
				t.Fatalf("group %d: spec data %v, code %s", g, grp, groups[g])
			}
		}
		// r after the position digits, then after each data digit: the
		// last number of each "→" step.
		r := 0
		for _, d := range pos {
			r = gfMul2(r) ^ d
		}
		steps := strings.Split(row[4], "→")[1:]
		if len(steps) != len(grp) {
			t.Fatalf("group %d: %d steps for %d data digits", g, len(steps), len(grp))
		}
		for i, st := range steps {
			r = gfMul2(r) ^ grp[i]
			nums := regexp.MustCompile(`\d+`).FindAllString(st, -1)
			if atoi(t, nums[len(nums)-1]) != r {
				t.Errorf("group %d step %d: spec r = %s, code %d", g, i+1, nums[len(nums)-1], r)
			}
		}
		check := checkChar(g, grp)
		nums := regexp.MustCompile(`\d+`).FindAllString(row[5], -1)
		if atoi(t, nums[len(nums)-1]) != check || row[6] != string(alphabet[check]) || groups[g][len(groups[g])-1] != alphabet[check] {
			t.Errorf("group %d: spec check %s %s, code %d %c", g, nums[len(nums)-1], row[6], check, alphabet[check])
		}
	}

	// Every mul2 and XOR written out in the example is right.
	for _, m := range regexp.MustCompile(`mul2\((\d+)\)=(\d+)(?:⊕37=(\d+))?`).FindAllStringSubmatch(sec, -1) {
		a, shifted := atoi(t, m[1]), atoi(t, m[2])
		want := shifted
		if m[3] != "" {
			want = atoi(t, m[3])
			if shifted^37 != want {
				t.Errorf("%s: %d⊕37 = %d", m[0], shifted, shifted^37)
			}
		}
		if a<<1 != shifted || gfMul2(a) != want {
			t.Errorf("%s: mul2(%d) = %d", m[0], a, gfMul2(a))
		}
	}
	for _, m := range regexp.MustCompile(`(?:^|[^\d(])(\d+)⊕(\d+)=(\d+)`).FindAllStringSubmatch(sec, -1) {
		if atoi(t, m[1])^atoi(t, m[2]) != atoi(t, m[3]) {
			t.Errorf("%s: %s⊕%s = %d", m[0], m[1], m[2], atoi(t, m[1])^atoi(t, m[2]))
		}
	}

	// 5. The code, its length, and the swap example.
	if !strings.Contains(sec, "**`"+code+"`** ("+strconv.Itoa(len(code))+" characters") {
		t.Errorf("spec does not give the code as **`%s`** (%d characters", code, len(code))
	}
	m = regexp.MustCompile("Typing\\s+`([^`]+)`[^`]*fails group (\\d+)'s check: the fold of\\s+`([\\d ]+)` is not 0").FindStringSubmatch(sec)
	if m == nil {
		t.Fatal("no swap example in section 6")
	}
	_, err := Decode("ASL1", m[1])
	te, ok := err.(*TypoError)
	if !ok || strconv.Itoa(te.Group) != m[2] {
		t.Errorf("swap example %s: %v, spec says group %s", m[1], err, m[2])
	}
	r := 0
	for _, f := range strings.Fields(m[3]) {
		r = gfMul2(r) ^ atoi(t, f)
	}
	if r == 0 {
		t.Errorf("the fold of %s is 0", m[3])
	}
}
