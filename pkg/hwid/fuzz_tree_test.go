package hwid

import (
	"encoding/binary"
	"encoding/json"
	"io/fs"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
)

// FuzzCollectTree feeds whole fact trees through the collector, so that
// every sysfs, procfs and /etc reader, the DMI normalisers, cpuid.json and
// the verdict run on hostile input together. The seeds are the fixture
// environments, each encoded as length-prefixed (name, content) pairs (see
// packTree), a form every byte string decodes from. The tree is served from
// memory (memSource), so that each run takes microseconds, not a disk
// round trip. The collector must not panic, must give one of the three
// verdicts with evidence for a refusal, and a fingerprint it returns must
// be valid.
func FuzzCollectTree(f *testing.F) {
	files, _ := filepath.Glob("testdata/envs/*.txtar")
	for _, name := range files {
		a, err := txtar.ParseFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(packTree(a.Files))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rep := collect(newMemSource(unpackTree(data)), "fuzz")
		v := rep.Virtualization
		switch v.Type {
		case TypeNone:
		case TypeVM, TypeContainer:
			if len(v.Evidence) == 0 {
				t.Fatalf("verdict %s/%s without evidence", v.Type, v.Technology)
			}
		default:
			t.Fatalf("verdict type %q", v.Type)
		}
		if len(rep.Fingerprint.Components) > 0 {
			if err := rep.Fingerprint.Validate(); err != nil {
				t.Fatalf("invalid fingerprint: %v", err)
			}
		}
	})
}

// The in-memory tree gives the same verdict as the same tree on disk.
func TestMemSourceMatchesDisk(t *testing.T) {
	for _, e := range loadEnvs(t) {
		disk := collectEnv(t, e, "p")
		mem := collect(newMemSource(e.archive.Files), "p")
		if disk.Virtualization.Type != mem.Virtualization.Type || disk.ID() != mem.ID() {
			t.Errorf("%s: disk %s %s, memory %s %s", e.name, disk.Virtualization.Type, disk.ID(), mem.Virtualization.Type, mem.ID())
		}
	}
}

// memSource serves a tree of files from memory.
type memSource struct {
	files map[string][]byte // "/proc/cpuinfo" -> content
	dirs  map[string]map[string]bool
	cpu   *cpuidFacts
	root  bool
}

func newMemSource(files []txtar.File) *memSource {
	// As in a dirSource, a tree without hwid.json was read as root.
	s := &memSource{files: map[string][]byte{}, dirs: map[string]map[string]bool{"/": {}}, root: true}
	for _, f := range files {
		name := path.Clean("/" + f.Name)
		if name == "/" {
			continue
		}
		s.files[name] = f.Data
		for p := name; p != "/"; p = path.Dir(p) {
			d := path.Dir(p)
			if s.dirs[d] == nil {
				s.dirs[d] = map[string]bool{}
			}
			s.dirs[d][path.Base(p)] = true
		}
	}
	if data, ok := s.files["/cpuid.json"]; ok {
		var c cpuidFacts
		if json.Unmarshal(data, &c) == nil {
			s.cpu = &c
		}
	}
	if data, ok := s.files["/hwid.json"]; ok {
		m := dumpMeta{RootRead: true}
		if json.Unmarshal(data, &m) == nil {
			s.root = m.RootRead
		}
	}
	return s
}

func (s *memSource) readFile(name string, max int) ([]byte, error) {
	data, ok := s.files[path.Clean(name)]
	if !ok {
		return nil, fs.ErrNotExist
	}
	return data[:min(len(data), max)], nil
}

func (s *memSource) readDir(name string) ([]string, error) {
	d, ok := s.dirs[path.Clean(name)]
	if !ok {
		return nil, fs.ErrNotExist
	}
	out := make([]string, 0, len(d))
	for n := range d {
		out = append(out, n)
	}
	sort.Strings(out)
	return out, nil
}

func (s *memSource) exists(name string) bool {
	name = path.Clean(name)
	_, f := s.files[name]
	_, d := s.dirs[name]
	return f || d
}

func (s *memSource) cpuid() *cpuidFacts { return s.cpu }
func (s *memSource) rootRead() bool     { return s.root }

// packTree encodes files as repeated (2-byte big-endian name length, name,
// 4-byte big-endian content length, content).
func packTree(files []txtar.File) []byte {
	var b []byte
	for _, f := range files {
		b = binary.BigEndian.AppendUint16(b, uint16(len(f.Name)))
		b = append(b, f.Name...)
		b = binary.BigEndian.AppendUint32(b, uint32(len(f.Data)))
		b = append(b, f.Data...)
	}
	return b
}

// unpackTree decodes what packTree encodes; a truncated tail is dropped.
func unpackTree(b []byte) []txtar.File {
	var out []txtar.File
	for len(b) >= 2 {
		n := int(binary.BigEndian.Uint16(b))
		if len(b) < 2+n+4 {
			break
		}
		name := string(b[2 : 2+n])
		b = b[2+n:]
		m := int(binary.BigEndian.Uint32(b))
		b = b[4:]
		m = min(m, len(b))
		if !strings.Contains(name, "\x00") {
			out = append(out, txtar.File{Name: name, Data: b[:m]})
		}
		b = b[m:]
	}
	return out
}
