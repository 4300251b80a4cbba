package hwid

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
)

// maxFile bounds every file read, so that a hostile tree (a FIFO, a huge
// file) cannot stall or exhaust the collector.
const maxFile = 1 << 20

// source is the one seam through which every fact is read. There are two
// implementations: liveSource reads this machine, dirSource reads a tree laid
// out like / (an unpacked dump or a test fixture) and nothing else.
// Names are absolute slash paths such as "/proc/cpuinfo".
type source interface {
	// readFile returns at most max bytes of the named file.
	readFile(name string, max int) ([]byte, error)
	// readDir returns the sorted entry names of the named directory.
	readDir(name string) ([]string, error)
	// exists reports whether the name exists (following symbolic links).
	exists(name string) bool
	// cpuid returns the CPUID facts, or nil when they are unknown.
	cpuid() *cpuidFacts
	// rootRead reports whether files that only root can read were readable.
	rootRead() bool
}

// cpuidFacts are the CPUID values the detector uses. In a dump they are the
// file cpuid.json at the root of the tree.
type cpuidFacts struct {
	HypervisorBit bool   `json:"hypervisor_bit"`
	Leaf40000000  string `json:"leaf_0x40000000"`
	Leaf40000100  string `json:"leaf_0x40000100"`
}

// dumpMeta is hwid.json at the root of a dump: how the dump was taken.
type dumpMeta struct {
	RootRead bool `json:"root_read"`
}

// liveSource reads this machine.
type liveSource struct {
	euid int
}

func (liveSource) readFile(name string, max int) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, int64(max)))
}

func (liveSource) readDir(name string) ([]string, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	sort.Strings(names)
	return names, err
}

func (liveSource) exists(name string) bool {
	_, err := os.Stat(name)
	return err == nil
}

func (liveSource) cpuid() *cpuidFacts { return liveCPUID() }

func (s liveSource) rootRead() bool { return s.euid == 0 }

// dirSource reads a tree laid out like /. It goes through os.Root, so a
// symbolic link in the tree cannot lead outside it: with --root, nothing is
// read from the real machine.
type dirSource struct {
	root *os.Root
	cpu  *cpuidFacts
	meta dumpMeta
}

func openDir(dir string) (*dirSource, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("root tree: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("root tree %s is not a directory (unpack a dump first: mkdir facts && tar -xzf facts.tar.gz -C facts)", dir)
	}
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("root tree: %w", err)
	}
	s := &dirSource{root: r, meta: dumpMeta{RootRead: true}}
	if b, err := s.readFile("/cpuid.json", maxFile); err == nil {
		var c cpuidFacts
		if err := json.Unmarshal(b, &c); err != nil {
			r.Close()
			return nil, fmt.Errorf("%s: cpuid.json: %w (want {\"hypervisor_bit\": false, \"leaf_0x40000000\": \"\", \"leaf_0x40000100\": \"\"})", dir, err)
		}
		s.cpu = &c
	}
	if b, err := s.readFile("/hwid.json", maxFile); err == nil {
		if err := json.Unmarshal(b, &s.meta); err != nil {
			r.Close()
			return nil, fmt.Errorf("%s: hwid.json: %w (want {\"root_read\": true})", dir, err)
		}
	}
	return s, nil
}

func rel(name string) string {
	name = strings.TrimPrefix(path.Clean("/"+name), "/")
	if name == "" {
		return "."
	}
	return name
}

func (s *dirSource) readFile(name string, max int) ([]byte, error) {
	f, err := s.root.Open(rel(name))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "read", Path: name, Err: errors.New("not a regular file")}
	}
	return io.ReadAll(io.LimitReader(f, int64(max)))
}

func (s *dirSource) readDir(name string) ([]string, error) {
	f, err := s.root.Open(rel(name))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	sort.Strings(names)
	return names, err
}

func (s *dirSource) exists(name string) bool {
	_, err := s.root.Stat(rel(name))
	return err == nil
}

func (s *dirSource) cpuid() *cpuidFacts { return s.cpu }

func (s *dirSource) rootRead() bool { return s.meta.RootRead }

func (s *dirSource) close() error { return s.root.Close() }

// recorder wraps a source and remembers every fact read, for a dump.
type recorder struct {
	src     source
	files   map[string][]byte
	dirs    map[string][]string
	present map[string]bool
	cpu     *cpuidFacts
	cpuRead bool
}

func newRecorder(src source) *recorder {
	return &recorder{src: src, files: map[string][]byte{}, dirs: map[string][]string{}, present: map[string]bool{}}
}

func (r *recorder) readFile(name string, max int) ([]byte, error) {
	b, err := r.src.readFile(name, max)
	if err == nil {
		r.files[path.Clean(name)] = b
	}
	return b, err
}

func (r *recorder) readDir(name string) ([]string, error) {
	n, err := r.src.readDir(name)
	if err == nil {
		r.dirs[path.Clean(name)] = n
	}
	return n, err
}

func (r *recorder) exists(name string) bool {
	ok := r.src.exists(name)
	if ok {
		r.present[path.Clean(name)] = true
	}
	return ok
}

func (r *recorder) cpuid() *cpuidFacts {
	r.cpu, r.cpuRead = r.src.cpuid(), true
	return r.cpu
}

func (r *recorder) rootRead() bool { return r.src.rootRead() }
