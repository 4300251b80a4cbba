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

// maxMeta bounds cpuid.json and hwid.json in a tree: a dump writes a few
// hundred bytes.
const maxMeta = 64 << 10

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
	b, err := s.readMeta(dir, "cpuid.json")
	if err != nil {
		r.Close()
		return nil, err
	}
	if b != nil {
		var c cpuidFacts
		if err := json.Unmarshal(b, &c); err != nil {
			r.Close()
			return nil, fmt.Errorf("%s: cpuid.json: %w (want {\"hypervisor_bit\": false, \"leaf_0x40000000\": \"\", \"leaf_0x40000100\": \"\"})", dir, err)
		}
		s.cpu = &c
	}
	if b, err = s.readMeta(dir, "hwid.json"); err != nil {
		r.Close()
		return nil, err
	}
	if b != nil {
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
	// Stat before opening: opening a FIFO would wait for a writer.
	if st, err := s.root.Stat(rel(name)); err != nil {
		return nil, err
	} else if !st.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "read", Path: name, Err: errNotRegular}
	}
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
		return nil, &fs.PathError{Op: "read", Path: name, Err: errNotRegular}
	}
	return io.ReadAll(io.LimitReader(f, int64(max)))
}

var errNotRegular = errors.New("not a regular file")

// readMeta reads cpuid.json or hwid.json at the root of a tree: a regular
// file of at most maxMeta bytes. A missing file is (nil, nil).
func (s *dirSource) readMeta(dir, name string) ([]byte, error) {
	st, err := s.root.Stat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path.Join(dir, name), err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file (%s); a dump holds %s as a small JSON file", path.Join(dir, name), st.Mode().Type(), name)
	}
	b, err := s.readFile("/"+name, maxMeta+1)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path.Join(dir, name), err)
	}
	if len(b) > maxMeta {
		return nil, fmt.Errorf("%s: larger than %d bytes, the limit for %s; a dump writes a few hundred bytes", path.Join(dir, name), maxMeta, name)
	}
	return b, nil
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
		name = path.Clean(name)
		r.files[name] = redact(name, b)
	}
	return b, err
}

// redact cuts a file down to what hwid reads from it, before it goes into a
// dump, for the files that hold more than hardware facts:
//
//   - /proc/1/environ: only the container= variable (PID 1's environment
//     holds whatever the container was started with: passwords, tokens);
//   - /proc/self/status: only the TracerPid line (not the user and group IDs);
//   - /etc/os-release: only the PRETTY_NAME line;
//   - /run/udev/data/*: only the ID_BUS, ID_SERIAL_SHORT and ID_MODEL
//     properties (not file-system labels and UUIDs, partition names, or
//     the by-path and by-id names).
//
// Every other file is recorded whole: it holds what detection parses and no
// secret. Disk and board serials, MAC addresses and the machine-id are kept
// on purpose, since support replays the dump to the same fingerprint; the
// host name is kept since the license request carries it anyway.
func redact(name string, b []byte) []byte {
	keepLines := func(sep string, keep func(string) bool) []byte {
		var out []string
		for _, l := range strings.Split(string(b), sep) {
			if keep(l) {
				out = append(out, l+sep)
			}
		}
		return []byte(strings.Join(out, ""))
	}
	switch {
	case name == "/proc/1/environ":
		return keepLines("\x00", func(l string) bool { return strings.HasPrefix(l, "container=") })
	case name == "/proc/self/status":
		return keepLines("\n", func(l string) bool { return strings.HasPrefix(l, "TracerPid:") })
	case name == "/etc/os-release":
		return keepLines("\n", func(l string) bool { return strings.HasPrefix(strings.TrimSpace(l), "PRETTY_NAME=") })
	case strings.HasPrefix(name, "/run/udev/data/"):
		return keepLines("\n", func(l string) bool {
			return strings.HasPrefix(l, "E:ID_BUS=") || strings.HasPrefix(l, "E:ID_SERIAL_SHORT=") || strings.HasPrefix(l, "E:ID_MODEL=")
		})
	}
	return b
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
