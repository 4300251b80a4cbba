package hwid

import (
	"encoding/json"
	"path"
	"sort"
	"strings"
)

// Tree is every raw fact one collection read, laid out like / (paths
// relative, slash-separated, no leading slash): the files read, the
// directories listed, the paths whose existence was tested (as empty
// directories), cpuid.json (when CPUID is known) and hwid.json (whether
// root-only files were readable). Written out as a directory it replays
// with Options{Root: dir} to the same report. Package
// github.com/airseal/airseal/pkg/hwid/dump archives it (hwid dump); the
// archive code lives there so that a verifier linking hwid does not link
// archive/tar and compress/gzip.
type Tree struct {
	// Names are every entry, sorted.
	Names []string
	// Dirs marks the entries that are directories.
	Dirs map[string]bool
	// Files holds the content of the entries that are files.
	Files map[string][]byte
}

// Record collects like Collect and also returns every raw fact read.
func Record(opts Options) (*Report, *Tree, error) {
	src, closeFn, err := openSource(opts.Root)
	if err != nil {
		return nil, nil, err
	}
	defer closeFn()
	rec := newRecorder(src)
	rep := collect(rec, opts.Product)
	return rep, rec.tree(), nil
}

func (r *recorder) tree() *Tree {
	files := map[string][]byte{}
	for name, b := range r.files {
		files[strings.TrimPrefix(name, "/")] = b
	}
	if r.cpuRead && r.cpu != nil {
		b, _ := json.MarshalIndent(r.cpu, "", "  ")
		files["cpuid.json"] = append(b, '\n')
	}
	meta, _ := json.Marshal(dumpMeta{RootRead: r.src.rootRead()})
	files["hwid.json"] = append(meta, '\n')

	dirs := map[string]bool{}
	addDir := func(p string) {
		for p != "." && p != "/" && p != "" {
			dirs[p] = true
			p = path.Dir(p)
		}
	}
	for name := range files {
		addDir(path.Dir(name))
	}
	for name, entries := range r.dirs {
		d := strings.TrimPrefix(name, "/")
		addDir(d)
		for _, e := range entries {
			p := path.Join(d, e)
			if _, isFile := files[p]; !isFile {
				addDir(p)
			}
		}
	}
	for name := range r.present {
		p := strings.TrimPrefix(name, "/")
		if _, isFile := files[p]; !isFile {
			addDir(p)
		}
	}
	// A path read as a file is a file, even if listed as a directory entry.
	for name := range files {
		delete(dirs, name)
	}

	names := make([]string, 0, len(dirs)+len(files))
	for d := range dirs {
		names = append(names, d)
	}
	for f := range files {
		names = append(names, f)
	}
	sort.Strings(names)
	return &Tree{Names: names, Dirs: dirs, Files: files}
}
