package hwid

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"
)

// dumpTime stamps every entry of a dump, so that the same facts give the
// same archive.
var dumpTime = time.Unix(0, 0).UTC()

// Dump collects like Collect and writes every raw fact read to w as a
// gzip-compressed tar archive laid out like /: the files read, the
// directories listed, the paths whose existence was tested (as empty
// directories), cpuid.json (when CPUID is known) and hwid.json (whether
// root-only files were readable). Unpacked, it replays with
// Options{Root: dir} to the same report.
func Dump(w io.Writer, opts Options) (*Report, error) {
	src, closeFn, err := openSource(opts.Root)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	rec := newRecorder(src)
	rep := collect(rec, opts.Product)
	if err := rec.write(w); err != nil {
		return nil, fmt.Errorf("writing the dump: %w", err)
	}
	return rep, nil
}

func (r *recorder) write(w io.Writer) error {
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

	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	for _, n := range names {
		if dirs[n] {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: n + "/", Mode: 0o755, ModTime: dumpTime}); err != nil {
				return err
			}
			continue
		}
		b := files[n]
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: n, Mode: 0o644, Size: int64(len(b)), ModTime: dumpTime}); err != nil {
			return err
		}
		if _, err := tw.Write(b); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}
