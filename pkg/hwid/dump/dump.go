// Package dump writes the raw facts hwid read as a gzip-compressed tar
// archive laid out like / (hwid dump), for a vendor's support to replay
// with hwid.Options{Root: dir}. It is apart from package hwid so that a
// verifier that collects facts does not link archive/tar and compress/gzip
// (issue 9, Measures: every linked package's init runs on each start).
package dump

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"io"
	"time"

	"github.com/airseal/airseal/pkg/hwid"
)

// dumpTime stamps every entry of a dump, so that the same facts give the
// same archive.
var dumpTime = time.Unix(0, 0).UTC()

// Write collects like hwid.Collect and writes every raw fact read
// (hwid.Tree) to w as a gzip-compressed tar archive laid out like /.
// Unpacked, it replays with hwid.Options{Root: dir} to the same report.
func Write(w io.Writer, opts hwid.Options) (*hwid.Report, error) {
	rep, tree, err := hwid.Record(opts)
	if err != nil {
		return nil, err
	}
	if err := WriteTree(w, tree); err != nil {
		return nil, fmt.Errorf("writing the dump: %w", err)
	}
	return rep, nil
}

// WriteTree writes tree to w as a gzip-compressed tar archive, entries in
// tree.Names order, each stamped with the Unix epoch: the same tree gives
// the same bytes.
func WriteTree(w io.Writer, tree *hwid.Tree) error {
	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	for _, n := range tree.Names {
		if tree.Dirs[n] {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: n + "/", Mode: 0o755, ModTime: dumpTime}); err != nil {
				return err
			}
			continue
		}
		b := tree.Files[n]
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
