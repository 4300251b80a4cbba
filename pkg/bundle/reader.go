package bundle

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/klauspost/compress/zstd"

	"github.com/airseal/airseal/pkg/keys"
)

// Bundle is an opened bundle whose header signature has been verified. Its
// payload has not been read yet.
type Bundle struct {
	Header   *Header   // header of the first volume given
	Manifest *Manifest // verified manifest
	// ID is the first 16 hex digits of the SHA-256 of the signed manifest;
	// every volume of one bundle carries the same ID.
	ID   string
	vols []*volume // by volume index; nil where not given
}

type volume struct {
	name   string
	f      *os.File
	offset int64 // payload offset
}

// Open opens volume files (in any order), reads each header, verifies its
// signature with ring, refusing keys listed in revoked, and checks that all
// volumes belong to the same bundle. When a single file is given and it is
// the first volume of a split bundle, the other volumes are looked for next
// to it (FILE.002, FILE.003, ...); missing ones are reported by
// [Bundle.Missing].
func Open(names []string, ring *keys.Keyring, revoked map[keys.ID]bool) (*Bundle, error) {
	if len(names) == 0 {
		return nil, fmt.Errorf("%w: no bundle file given", ErrVolume)
	}
	b := &Bundle{}
	ok := false
	defer func() {
		if !ok {
			b.Close()
		}
	}()
	add := func(name string) error {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		h, err := ReadHeader(f)
		if err != nil {
			f.Close()
			return fmt.Errorf("%s: %w", name, err)
		}
		if b.Manifest == nil {
			m, err := h.Verify(ring, revoked)
			if err != nil {
				f.Close()
				return fmt.Errorf("%s: %w", name, err)
			}
			sum := sha256.Sum256(h.Manifest)
			b.Header, b.Manifest, b.ID = h, m, hex.EncodeToString(sum[:8])
			b.vols = make([]*volume, m.Payload.Volumes)
		} else {
			if !bytes.Equal(h.Manifest, b.Header.Manifest) || h.KeyID != b.Header.KeyID || !bytes.Equal(h.Signature, b.Header.Signature) {
				f.Close()
				sum := sha256.Sum256(h.Manifest)
				return fmt.Errorf("%w: %s belongs to another bundle (ID %s, not %s); remove stale volumes and copy all volumes of one bundle",
					ErrVolume, name, hex.EncodeToString(sum[:8]), b.ID)
			}
		}
		if h.VolumeIndex >= len(b.vols) {
			f.Close()
			return fmt.Errorf("%w: %s: volume %d of %d is out of range", ErrVolume, name, h.VolumeIndex+1, len(b.vols))
		}
		if prev := b.vols[h.VolumeIndex]; prev != nil {
			f.Close()
			return fmt.Errorf("%w: %s and %s are both volume %d", ErrVolume, prev.name, name, h.VolumeIndex+1)
		}
		v := &volume{name: name, f: f, offset: h.PayloadOffset()}
		b.vols[h.VolumeIndex] = v
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			if want := v.offset + b.volumePayloadSize(h.VolumeIndex); fi.Size() > want {
				return fmt.Errorf("%w: %s: %d bytes after the last chunk (the file should be %d bytes)", ErrDamaged, name, fi.Size()-want, want)
			}
		}
		return nil
	}
	for _, n := range names {
		if err := add(n); err != nil {
			return nil, err
		}
	}
	if len(names) == 1 && b.Header.VolumeIndex == 0 {
		for i := 1; i < len(b.vols); i++ {
			n := VolumeName(names[0], i)
			if _, err := os.Stat(n); err == nil {
				if err := add(n); err != nil {
					return nil, err
				}
			}
		}
	}
	ok = true
	return b, nil
}

// Close closes the volume files.
func (b *Bundle) Close() error {
	for _, v := range b.vols {
		if v != nil {
			v.f.Close()
		}
	}
	return nil
}

// Missing returns the 0-based indexes of volumes not opened.
func (b *Bundle) Missing() []int {
	var out []int
	for i, v := range b.vols {
		if v == nil {
			out = append(out, i)
		}
	}
	return out
}

// VolumeNames returns the opened volume file names by index ("" if missing).
func (b *Bundle) VolumeNames() []string {
	out := make([]string, len(b.vols))
	for i, v := range b.vols {
		if v != nil {
			out[i] = v.name
		}
	}
	return out
}

// MissingError returns nil when every volume of the bundle was opened,
// else an error matching ErrVolume that names the missing volumes.
func (b *Bundle) MissingError() error {
	miss := b.Missing()
	if len(miss) == 0 {
		return nil
	}
	var s []string
	base := ""
	for _, v := range b.vols {
		if v != nil && b.Header != nil {
			base = v.name
			break
		}
	}
	for _, i := range miss {
		s = append(s, fmt.Sprintf("%d", i+1))
	}
	return fmt.Errorf("%w: volume(s) %s of %d missing (next to %s, named like %s)", ErrVolume, strings.Join(s, ", "), len(b.vols), base, VolumeName("FILE", miss[0]))
}

func (b *Bundle) volumePayloadSize(v int) int64 {
	p := &b.Manifest.Payload
	first := int64(v * p.ChunksPerVolume)
	last := min(first+int64(p.ChunksPerVolume), int64(len(p.Chunks)))
	size := (last - first) * p.ChunkSize
	if last == int64(len(p.Chunks)) {
		size -= int64(len(p.Chunks))*p.ChunkSize - p.Size
	}
	return size
}

// chunkJob is one chunk read from disk, being hashed.
type chunkJob struct {
	buf  []byte
	err  error
	done chan struct{}
}

// chunkReader yields the verified payload bytes of the chosen volumes in
// order. Each chunk is read once and hashed before any of it is returned.
type chunkReader struct {
	queue chan *chunkJob
	cur   *chunkJob
	off   int
	err   error // sticky error, owned by the reading goroutine
	pool  chan []byte
	stop  chan struct{}
	read  atomic.Int64 // verified bytes handed out
	// failed is the first chunk error, readable from other goroutines.
	failed atomic.Pointer[error]
}

func (b *Bundle) payload(vols []int) *chunkReader {
	p := &b.Manifest.Payload
	workers := max(1, min(runtime.GOMAXPROCS(0), 4))
	cr := &chunkReader{queue: make(chan *chunkJob, workers+1), pool: make(chan []byte, workers+3), stop: make(chan struct{})}
	go func() {
		defer close(cr.queue)
		for _, v := range vols {
			vol := b.vols[v]
			first := v * p.ChunksPerVolume
			last := min(first+p.ChunksPerVolume, len(p.Chunks))
			for i := first; i < last; i++ {
				size := p.ChunkSize
				if i == len(p.Chunks)-1 {
					size = p.Size - int64(i)*p.ChunkSize
				}
				var buf []byte
				select {
				case buf = <-cr.pool:
				default:
					buf = make([]byte, p.ChunkSize)
				}
				buf = buf[:size]
				off := vol.offset + int64(i-first)*p.ChunkSize
				j := &chunkJob{buf: buf, done: make(chan struct{})}
				n, err := vol.f.ReadAt(buf, off)
				short := n < len(buf)
				if short {
					if err == nil || err == io.EOF {
						err = fmt.Errorf("truncated: only %d of %d bytes present", n, len(buf))
					}
					j.err = &ChunkError{Index: i, Count: len(p.Chunks), Volume: vol.name, Offset: off, Reason: err.Error()}
					close(j.done)
				} else {
					want := p.Chunks[i]
					ce := &ChunkError{Index: i, Count: len(p.Chunks), Volume: vol.name, Offset: off, Reason: "SHA-256 mismatch"}
					go func() {
						sum := sha256.Sum256(j.buf)
						if hex.EncodeToString(sum[:]) != want {
							j.err = ce
						}
						close(j.done)
					}()
				}
				select {
				case cr.queue <- j:
				case <-cr.stop:
					return
				}
				if short {
					return
				}
			}
		}
	}()
	return cr
}

func (cr *chunkReader) Read(p []byte) (int, error) {
	if cr.err != nil {
		return 0, cr.err
	}
	for cr.cur == nil || cr.off == len(cr.cur.buf) {
		if cr.cur != nil {
			select {
			case cr.pool <- cr.cur.buf[:cap(cr.cur.buf)]:
			default:
			}
			cr.cur = nil
		}
		j, ok := <-cr.queue
		if !ok {
			cr.err = io.EOF
			return 0, io.EOF
		}
		<-j.done
		if j.err != nil {
			cr.err = j.err
			cr.failed.CompareAndSwap(nil, &j.err)
			return 0, j.err
		}
		cr.cur, cr.off = j, 0
	}
	n := copy(p, cr.cur.buf[cr.off:])
	cr.off += n
	cr.read.Add(int64(n))
	return n, nil
}

// close stops the background reader.
func (cr *chunkReader) close() {
	select {
	case <-cr.stop:
	default:
		close(cr.stop)
	}
	for range cr.queue {
	}
}

// boundedReader returns at most n bytes and fails with ErrUnsafe if the
// source has more (a decompression bomb).
type boundedReader struct {
	r io.Reader
	n int64
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.n <= 0 {
		var one [1]byte
		k, err := io.ReadFull(b.r, one[:])
		if k > 0 {
			return 0, fmt.Errorf("%w: the payload decompresses to more than the signed tar_size (decompression bomb)", ErrUnsafe)
		}
		if err == io.ErrUnexpectedEOF {
			err = io.EOF
		}
		return 0, err
	}
	if int64(len(p)) > b.n {
		p = p[:b.n]
	}
	k, err := b.r.Read(p)
	b.n -= int64(k)
	return k, err
}

// VisitFunc visits one manifest entry during [Bundle.Walk]. For files, r
// yields exactly f.Size bytes; the visitor must read all of them and return
// their SHA-256, which Walk compares with the manifest. For other entries r
// is nil and the sum is ignored.
type VisitFunc func(f *File, r io.Reader) (sum []byte, err error)

// hashVisit is the visitor of a verification: it only hashes.
func hashVisit() VisitFunc {
	h := sha256.New()
	buf := make([]byte, 256<<10)
	return func(f *File, r io.Reader) ([]byte, error) {
		if r == nil {
			return nil, nil
		}
		h.Reset()
		if _, err := io.CopyBuffer(h, r, buf); err != nil {
			return nil, err
		}
		return h.Sum(nil), nil
	}
}

// Walk streams the payload of a complete bundle and calls visit for each
// manifest entry in order, after checking that the tar entry matches it:
// every chunk is verified before it is decompressed, the decompressed
// size is bounded by the signed tar size, and each tar entry must match
// its manifest entry. A file's SHA-256 is checked after visit returns, so
// visit must not treat the content as trusted before Walk returns nil.
// progress, if set, is called with the file bytes done so far.
func (b *Bundle) Walk(visit VisitFunc, progress func(int64)) (err error) {
	if err := b.MissingError(); err != nil {
		return err
	}
	all := make([]int, len(b.vols))
	for i := range all {
		all[i] = i
	}
	cr := b.payload(all)
	defer cr.close()
	dec, err := zstd.NewReader(cr, zstd.WithDecoderMaxWindow(MaxWindow), zstd.WithDecoderMaxMemory(MaxWindow*2),
		zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(false))
	if err != nil {
		return err
	}
	defer dec.Close()
	// Prefer the chunk error over whatever the decompressor made of it.
	defer func() {
		if err != nil {
			var ce *ChunkError
			if p := cr.failed.Load(); p != nil && errors.As(*p, &ce) && !errors.As(err, &ce) {
				err = *p
			}
		}
	}()
	m := b.Manifest
	br := &boundedReader{r: dec, n: m.Payload.TarSize}
	tr := tar.NewReader(br)
	buf := make([]byte, 256<<10)
	var done int64
	for i := range m.Files {
		f := &m.Files[i]
		hdr, err := tr.Next()
		if err != nil {
			return payloadErr(fmt.Sprintf("before entry %d (%s)", i+1, f.Path), err)
		}
		if err := matchHeader(hdr, f); err != nil {
			return err
		}
		if f.Type != TypeFile {
			if _, err := visit(f, nil); err != nil {
				return err
			}
			continue
		}
		cr := &contentReader{r: tr, n: f.Size}
		sum, err := visit(f, cr)
		if err != nil {
			if cr.err != nil {
				return cr.err
			}
			return err
		}
		if cr.n != 0 {
			return payloadErr(f.Path, io.ErrUnexpectedEOF)
		}
		if got := hex.EncodeToString(sum); got != f.SHA256 {
			return fmt.Errorf("%w: %s: content SHA-256 %s differs from the manifest's %s", ErrDamaged, f.Path, got, f.SHA256)
		}
		done += f.Size
		if progress != nil {
			progress(done)
		}
	}
	if hdr, err := tr.Next(); err != io.EOF {
		if err != nil {
			return payloadErr("after the last entry", err)
		}
		return fmt.Errorf("%w: the payload has an entry %q not in the manifest", ErrUnsafe, hdr.Name)
	}
	// Drain the tar end-of-archive blocks; the total must be exactly tar_size.
	if _, err := io.CopyBuffer(io.Discard, br, buf); err != nil {
		return payloadErr("at the end", err)
	}
	if br.n != 0 {
		return fmt.Errorf("%w: the payload decompresses to %d bytes, the manifest says %d", ErrDamaged, m.Payload.TarSize-br.n, m.Payload.TarSize)
	}
	if n := cr.read.Load(); n != m.Payload.Size {
		return fmt.Errorf("%w: %d compressed bytes were left unread: the payload has data after its last frame", ErrDamaged, m.Payload.Size-n)
	}
	return nil
}

func payloadErr(where string, err error) error {
	var ce *ChunkError
	switch {
	case errors.As(err, &ce), errors.Is(err, ErrUnsafe), errors.Is(err, ErrDamaged):
		return err
	case errors.Is(err, zstd.ErrWindowSizeExceeded), errors.Is(err, zstd.ErrDecoderSizeExceeded), errors.Is(err, zstd.ErrFrameSizeExceeded):
		return fmt.Errorf("%w: payload %s: %v (the zstd window is limited to %d bytes)", ErrUnsafe, where, err, MaxWindow)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: payload ends early %s", ErrDamaged, where)
	}
	return fmt.Errorf("%w: payload %s: %v", ErrDamaged, where, err)
}

func matchHeader(hdr *tar.Header, f *File) error {
	switch hdr.Typeflag {
	case tar.TypeLink:
		return fmt.Errorf("%w: payload entry %q is a hard link; bundles may not contain hard links", ErrUnsafe, hdr.Name)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		return fmt.Errorf("%w: payload entry %q is a device or FIFO; bundles may not contain device files", ErrUnsafe, hdr.Name)
	}
	name := strings.TrimSuffix(hdr.Name, "/")
	if name != f.Path {
		return fmt.Errorf("%w: payload entry %q does not match manifest entry %q", ErrUnsafe, hdr.Name, f.Path)
	}
	want := map[string]byte{TypeFile: tar.TypeReg, TypeDir: tar.TypeDir, TypeSymlink: tar.TypeSymlink}[f.Type]
	if hdr.Typeflag != want {
		return fmt.Errorf("%w: payload entry %q has tar type %q, the manifest says %s", ErrUnsafe, hdr.Name, hdr.Typeflag, f.Type)
	}
	if hdr.Size != f.Size || (f.Type != TypeSymlink && uint32(hdr.Mode)&0o7777 != uint32(f.Mode)) || hdr.Linkname != f.Target {
		return fmt.Errorf("%w: payload entry %q (size %d, mode %04o, link %q) does not match the manifest (size %d, mode %04o, link %q)",
			ErrDamaged, hdr.Name, hdr.Size, hdr.Mode&0o7777, hdr.Linkname, f.Size, uint32(f.Mode), f.Target)
	}
	return nil
}

// contentReader yields exactly n bytes of a file's content from the tar
// reader and records payload errors.
type contentReader struct {
	r   io.Reader
	n   int64
	err error
}

func (r *contentReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.n {
		p = p[:r.n]
	}
	k, err := r.r.Read(p)
	r.n -= int64(k)
	if err == io.EOF && r.n > 0 {
		err = io.ErrUnexpectedEOF
	}
	if err != nil && err != io.EOF {
		r.err = payloadErr("in a file", err)
		return k, r.err
	}
	return k, err
}

// VerifyOptions configures [Bundle.Verify].
type VerifyOptions struct {
	// ChunksOnly checks the signature and every chunk of the given volumes
	// (every stored byte is authenticated) without decompressing.
	ChunksOnly bool
	// Progress, if set, is called with the bytes processed so far.
	Progress func(done int64)
}

// VolumeReport is the verification result of one volume.
type VolumeReport struct {
	Index      int    `json:"index"` // 1-based
	Name       string `json:"name"`
	FirstChunk int    `json:"first_chunk"` // 1-based
	Chunks     int    `json:"chunks"`
	Present    bool   `json:"present"`
}

// VerifyResult is what [Bundle.Verify] checked.
type VerifyResult struct {
	BundleID      string         `json:"bundle_id"`
	KeyID         keys.ID        `json:"key_id"`
	Product       string         `json:"product"`
	Version       string         `json:"version"`
	Complete      bool           `json:"complete"` // all volumes present
	ChunksChecked int            `json:"chunks_checked"`
	ChunksTotal   int            `json:"chunks_total"`
	FilesChecked  int            `json:"files_checked"` // 0 unless complete and not chunks-only
	Volumes       []VolumeReport `json:"volumes"`
}

// Verify checks every chunk of the opened volumes and, when all volumes are
// present and opts.ChunksOnly is false, decompresses the payload and checks
// every entry and file hash against the manifest. A damaged chunk is
// reported as a *ChunkError.
func (b *Bundle) Verify(opts VerifyOptions) (*VerifyResult, error) {
	p := &b.Manifest.Payload
	res := &VerifyResult{BundleID: b.ID, KeyID: b.Header.KeyID, Product: b.Manifest.Product, Version: b.Manifest.Version,
		Complete: len(b.Missing()) == 0, ChunksTotal: len(p.Chunks)}
	var present []int
	for i, v := range b.vols {
		first := i * p.ChunksPerVolume
		vr := VolumeReport{Index: i + 1, FirstChunk: first + 1, Chunks: min(p.ChunksPerVolume, len(p.Chunks)-first), Present: v != nil}
		if v != nil {
			vr.Name = v.name
			present = append(present, i)
		}
		res.Volumes = append(res.Volumes, vr)
	}
	sort.Ints(present)
	if res.Complete && !opts.ChunksOnly {
		err := b.Walk(hashVisit(), opts.Progress)
		if err != nil {
			return nil, err
		}
		res.FilesChecked, res.ChunksChecked = len(b.Manifest.Files), len(p.Chunks)
		return res, nil
	}
	cr := b.payload(present)
	defer cr.close()
	buf := make([]byte, 1<<20)
	for {
		_, err := cr.Read(buf)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if opts.Progress != nil {
			opts.Progress(cr.read.Load())
		}
	}
	for _, v := range present {
		res.ChunksChecked += res.Volumes[v].Chunks
	}
	return res, nil
}
