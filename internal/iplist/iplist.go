// Package iplist parses the license server's whitelist.dat and blacklist.dat
// (the Cleverence format) and answers, fast, whether an address is allowed.
//
// One entry a line: a single address (192.168.1.1, 2001:db8::1), a CIDR
// block (192.198.0.0/16, 2001:db8::/32) or an inclusive range
// (192.198.0.1-192.198.0.100). Blank lines are ignored; '#' or ';' starts a
// comment (whole line or after the entry). IPv4-mapped IPv6 addresses
// (::ffff:1.2.3.4) are treated as the IPv4 address.
//
// The whitelist wins: an address on the whitelist is allowed even if the
// blacklist also names it, and the blacklist is not consulted (as in the
// seed: "if the IP is found in whitelist, blacklist is not checked"). Any
// address on neither list is allowed.
//
// # Security
//
// Only regular files are read (symbolic links are followed; a dangling
// link, a directory, FIFO or device is refused; a missing file is an empty
// list — see LoadFile). Files are read with a size limit (LimitFile) and a
// line limit; a malformed
// line refuses the whole file with an error naming the file and line number,
// so a list is never half applied. Text from the file is cleaned with
// internal/safetext before it appears in an error. Lookups are a binary search
// over sorted, merged ranges: O(log n) whatever the file holds.
package iplist

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"sort"
	"strings"
	"sync"

	"github.com/airseal/airseal/internal/safetext"
)

// LimitFile is the largest list file accepted (bytes).
const LimitFile = 4 << 20

// LimitLine is the longest line accepted (bytes).
const LimitLine = 256

type span struct{ lo, hi netip.Addr }

// List is a parsed, immutable address list. The zero value is empty.
type List struct {
	spans []span // sorted by lo, non-overlapping, merged
}

// Len reports the number of merged ranges in the list.
func (l *List) Len() int {
	if l == nil {
		return 0
	}
	return len(l.spans)
}

// Contains reports whether addr is in the list.
func (l *List) Contains(addr netip.Addr) bool {
	if l == nil || len(l.spans) == 0 || !addr.IsValid() {
		return false
	}
	addr = addr.Unmap().WithZone("")
	i := sort.Search(len(l.spans), func(i int) bool { return addr.Compare(l.spans[i].hi) <= 0 })
	return i < len(l.spans) && l.spans[i].lo.Compare(addr) <= 0
}

// ParseError is a malformed line: the file (or name given), the line
// number, the text (cleaned) and what is wrong.
type ParseError struct {
	File string
	Line int
	Text string
	Msg  string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("%s:%d: %q: %s (hint: one entry a line: 192.168.1.1, 192.168.0.0/16 or 192.168.0.1-192.168.0.100; the whole file was refused)",
		e.File, e.Line, e.Text, e.Msg)
}

// Parse reads a list from r; name is used in errors.
func Parse(name string, r io.Reader) (*List, error) {
	br := bufio.NewReader(io.LimitReader(r, LimitFile+1))
	var spans []span
	total, lineNo := 0, 0
	for {
		line, err := br.ReadSlice('\n')
		total += len(line)
		if total > LimitFile {
			return nil, fmt.Errorf("%s: larger than %d bytes (hint: merge entries into CIDR blocks or ranges)", name, LimitFile)
		}
		if errors.Is(err, bufio.ErrBufferFull) || len(line) > LimitLine+2 {
			return nil, &ParseError{File: name, Line: lineNo + 1, Text: safetext.Clean(string(line[:min(len(line), 40)])), Msg: fmt.Sprintf("line longer than %d bytes", LimitLine)}
		}
		if len(line) > 0 {
			lineNo++
			s, perr := parseLine(string(bytes.TrimRight(line, "\r\n")))
			if perr != nil {
				return nil, &ParseError{File: name, Line: lineNo, Text: safetext.Clean(strings.TrimSpace(string(line))), Msg: perr.Error()}
			}
			if s != nil {
				spans = append(spans, splitMapped(*s)...)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	return &List{spans: merge(spans)}, nil
}

func parseLine(line string) (*span, error) {
	if i := strings.IndexAny(line, "#;"); i >= 0 {
		line = line[:i]
	}
	line = strings.TrimSpace(line)
	if line == "" {
		return nil, nil
	}
	if strings.ContainsAny(line, " \t") {
		return nil, errors.New("one entry a line (found spaces inside the entry)")
	}
	if strings.Contains(line, "/") {
		p, err := netip.ParsePrefix(line)
		if err != nil {
			return nil, errors.New("not a CIDR block")
		}
		if p.Addr().Is4In6() {
			if p.Bits() < 96 {
				return nil, errors.New("IPv4-mapped prefix shorter than /96")
			}
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		p = p.Masked()
		return &span{lo: p.Addr(), hi: lastAddr(p)}, nil
	}
	if a, b, ok := strings.Cut(line, "-"); ok {
		lo, err1 := parseAddr(a)
		hi, err2 := parseAddr(b)
		if err1 != nil || err2 != nil {
			return nil, errors.New("not a range of two addresses")
		}
		if lo.Is4() != hi.Is4() {
			return nil, errors.New("range mixes IPv4 and IPv6")
		}
		if hi.Less(lo) {
			return nil, errors.New("range ends before it starts")
		}
		return &span{lo: lo, hi: hi}, nil
	}
	a, err := parseAddr(line)
	if err != nil {
		return nil, errors.New("not an IP address")
	}
	return &span{lo: a, hi: a}, nil
}

// The IPv4-mapped block ::ffff:0.0.0.0/96. Addresses are compared
// unmapped (a client at ::ffff:1.2.3.4 is 1.2.3.4), so an IPv6 entry that
// covers part of this block covers those IPv4 addresses.
var (
	mappedLo = netip.AddrFrom16([16]byte{10: 0xff, 11: 0xff})
	mappedHi = netip.AddrFrom16([16]byte{10: 0xff, 11: 0xff, 12: 0xff, 13: 0xff, 14: 0xff, 15: 0xff})
)

// splitMapped returns sp as spans of one family each: an IPv6 span that
// overlaps the IPv4-mapped block (e.g. ::/80, or a range across it) is cut
// into its IPv6 parts outside the block and the IPv4 addresses inside it,
// so that Contains, which unmaps the address it is given, finds them.
func splitMapped(sp span) []span {
	if sp.lo.Is4() || sp.hi.Less(mappedLo) || mappedHi.Less(sp.lo) {
		return []span{sp}
	}
	var out []span
	if sp.lo.Less(mappedLo) {
		out = append(out, span{lo: sp.lo, hi: mappedLo.Prev()})
	}
	lo, hi := sp.lo, sp.hi
	if lo.Less(mappedLo) {
		lo = mappedLo
	}
	if mappedHi.Less(hi) {
		hi = mappedHi
	}
	out = append(out, span{lo: lo.Unmap(), hi: hi.Unmap()})
	if mappedHi.Less(sp.hi) {
		out = append(out, span{lo: mappedHi.Next(), hi: sp.hi})
	}
	return out
}

func parseAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return a, err
	}
	if a.Zone() != "" {
		return netip.Addr{}, errors.New("zones not allowed")
	}
	return a.Unmap(), nil
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	bits := p.Bits()
	for i := range b {
		for j := 0; j < 8; j++ {
			if i*8+j >= bits {
				b[i] |= 0x80 >> j
			}
		}
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

func merge(spans []span) []span {
	if len(spans) == 0 {
		return nil
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].lo.Less(spans[j].lo) })
	out := []span{spans[0]}
	for _, s := range spans[1:] {
		last := &out[len(out)-1]
		adj := last.hi.Next()
		if s.lo.Is4() == last.hi.Is4() && (s.lo.Compare(last.hi) <= 0 || (adj.IsValid() && s.lo == adj)) {
			if last.hi.Less(s.hi) {
				last.hi = s.hi
			}
			continue
		}
		out = append(out, s)
	}
	return out
}

// LoadFile parses the list at path.
//
// A missing file is an empty list (nil error): the seed's server ships
// without the files and an admin creates them when needed, and deleting a
// file empties that list on the next reload.
//
// A symbolic link is followed (a site may keep its lists elsewhere, under
// configuration management), but a link whose target is missing is an
// error, not an empty list: an admin who linked a blacklist meant one.
//
// Only a regular file is read. A directory, FIFO, socket or device is
// refused before it is opened, so a FIFO planted in the server's directory
// cannot hang a reload; the file is checked again after opening and
// refused if it is no longer the file that was checked.
func LoadFile(path string) (*List, error) {
	lst, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return &List{}, nil
	}
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) && lst.Mode()&os.ModeSymlink != 0 {
			return nil, fmt.Errorf("%s: symbolic link to a missing file (hint: fix or remove the link; a missing list file means an empty list, a dangling link is refused)", path)
		}
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file (%s) (hint: the list must be a plain text file)", path, kind(st.Mode()))
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fst, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fst.Mode().IsRegular() || !os.SameFile(st, fst) {
		return nil, fmt.Errorf("%s: the file changed while it was opened (hint: reload again)", path)
	}
	return Parse(path, f)
}

func kind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeNamedPipe != 0:
		return "a FIFO"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeDevice != 0:
		return "a device"
	}
	return "mode " + m.Type().String()
}

// Decision is the answer for one address.
type Decision int

const (
	// Allowed: the address may connect.
	Allowed Decision = iota
	// Whitelisted: the address is on the whitelist (allowed, and exempt
	// from the login limit).
	Whitelisted
	// Blacklisted: the address is on the blacklist and not whitelisted.
	Blacklisted
)

// Allowed reports whether the decision lets the address connect.
func (d Decision) Allowed() bool { return d == Allowed || d == Whitelisted }

// Lists holds a whitelist and a blacklist from a directory and reloads
// them when the files change. It is safe for concurrent use.
type Lists struct {
	white, black string
	mu           sync.RWMutex
	w, b         *List
	wst, bst     stamp
}

type stamp struct {
	size int64
	mod  int64
}

// Open loads whitelist.dat and blacklist.dat from dir.
func Open(dir string) (*Lists, error) {
	l := &Lists{white: dir + string(os.PathSeparator) + "whitelist.dat", black: dir + string(os.PathSeparator) + "blacklist.dat"}
	if err := l.Reload(); err != nil {
		return nil, err
	}
	return l, nil
}

func statOf(path string) stamp {
	st, err := os.Stat(path)
	if err != nil {
		return stamp{size: -1}
	}
	return stamp{size: st.Size(), mod: st.ModTime().UnixNano()}
}

// Reload re-reads both files if either changed since the last load. On
// error the lists in force stay as they were (never half applied) and the
// error names the file and line.
func (l *Lists) Reload() error {
	ws, bs := statOf(l.white), statOf(l.black)
	l.mu.RLock()
	same := l.w != nil && ws == l.wst && bs == l.bst
	l.mu.RUnlock()
	if same {
		return nil
	}
	w, err := LoadFile(l.white)
	if err != nil {
		return err
	}
	b, err := LoadFile(l.black)
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.w, l.b, l.wst, l.bst = w, b, ws, bs
	l.mu.Unlock()
	return nil
}

// Check decides for addr: whitelist first, then blacklist.
func (l *Lists) Check(addr netip.Addr) Decision {
	l.mu.RLock()
	w, b := l.w, l.b
	l.mu.RUnlock()
	return Decide(w, b, addr)
}

// Decide applies the rule to two lists: whitelisted wins; otherwise a
// blacklisted address is refused; anything else is allowed.
func Decide(white, black *List, addr netip.Addr) Decision {
	if white.Contains(addr) {
		return Whitelisted
	}
	if black.Contains(addr) {
		return Blacklisted
	}
	return Allowed
}
