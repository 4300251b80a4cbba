package bundle

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/airseal/airseal/pkg/keys"
)

// DefaultSplit is the volume size used when splitting without a size: just
// under the 4 GiB file size limit of FAT32.
const DefaultSplit = 4<<30 - 1<<20

// DefaultChunkSize is the payload chunk size for releases up to 128 GiB;
// larger releases use larger chunks so the manifest stays bounded.
const DefaultChunkSize = 1 << 20

// frameSize is the amount of tar stream compressed into one independent
// zstd frame; frames are compressed in parallel.
const frameSize = 2 << 20

// PackOptions configures [Pack].
type PackOptions struct {
	Key          *keys.PrivateKey // signs the manifest
	Product      string           // product name, as in its licenses ("Acme Writer")
	Version      string           // release version; names releases/VERSION on targets
	ReleaseDate  time.Time        // zero means now, truncated to seconds
	FromVersions []string         // installed versions it may update; empty: any older
	Downgrade    bool             // the bundle may replace a newer installed version
	Dir          string           // the release tree to pack
	Output       string           // first volume; others are Output.002, ...
	Split        int64            // volume size in bytes; 0 writes one file
	Hooks        []Hook           // programs of the release run by apply
	Licenses     []License        // license files carried to .airseal/licenses/
	// TrustKeys are keys targets trust once the bundle is applied (key
	// rotation); RevokedKeys and RevokedLicenses are refused from then on.
	TrustKeys       []*keys.PublicKey
	RevokedKeys     []keys.ID
	RevokedLicenses []string
	// Concurrency is the number of compressing goroutines; 0 means
	// GOMAXPROCS, at most 4. The output does not depend on it.
	Concurrency int
}

// PackResult describes a written bundle.
type PackResult struct {
	Manifest *Manifest
	KeyID    keys.ID
	Volumes  []string // file names, in order
}

type packEntry struct {
	File
	abs string
}

// Pack reads opts.Dir and writes a signed bundle. Memory use does not depend
// on the size of the release (only on the number of entries). The output is
// reproducible: the same tree, options and key give the same bytes.
func Pack(opts PackOptions) (*PackResult, error) {
	if opts.Key == nil {
		return nil, errors.New("pack: no signing key")
	}
	if opts.ReleaseDate.IsZero() {
		opts.ReleaseDate = time.Now().UTC().Truncate(time.Second)
	}
	opts.ReleaseDate = opts.ReleaseDate.UTC()
	entries, err := walkRelease(opts.Dir)
	if err != nil {
		return nil, err
	}
	m := &Manifest{
		Format:          FormatName,
		Product:         opts.Product,
		Version:         opts.Version,
		ReleaseDate:     opts.ReleaseDate,
		FromVersions:    opts.FromVersions,
		Downgrade:       opts.Downgrade,
		Hooks:           opts.Hooks,
		Licenses:        opts.Licenses,
		RevokedLicenses: opts.RevokedLicenses,
		Files:           []File{}, // "files": [] for an empty release, never null
		Payload:         Payload{Compression: "zstd"},
	}
	for _, k := range opts.TrustKeys {
		m.TrustKeys = append(m.TrustKeys, strings.TrimSpace(lastLine(k.MarshalPublic())))
	}
	for _, id := range opts.RevokedKeys {
		if id == opts.Key.ID() {
			return nil, fmt.Errorf("pack: --revoke-key %s is the signing key; sign with another key", id)
		}
		m.RevokedKeys = append(m.RevokedKeys, string(id))
	}
	// Upper bounds for the space the manifest needs before the payload is
	// known.
	var tarBound int64 = 1024 + 8192
	for _, e := range entries {
		m.Files = append(m.Files, e.File)
		tarBound += (e.Size+511)/512*512 + 1536 + int64(len(e.Path)+len(e.Target))*2
	}
	frames := tarBound/frameSize + 1
	zBound := tarBound + tarBound/64 + frames*64 + 1024
	chunk := int64(DefaultChunkSize)
	for zBound/chunk > 131072 && chunk < MaxChunkSize {
		chunk *= 2
	}
	maxChunks := (zBound + chunk - 1) / chunk
	m.Payload.ChunkSize = chunk
	// Placeholder manifest with every variable field at its widest.
	ph := *m
	ph.Files = append([]File(nil), m.Files...)
	for i := range ph.Files {
		if ph.Files[i].Type == TypeFile {
			ph.Files[i].SHA256 = strings.Repeat("0", 64)
		}
	}
	ph.Payload.Size, ph.Payload.TarSize = 1<<62, 1<<62
	ph.Payload.Chunks = make([]string, maxChunks)
	for i := range ph.Payload.Chunks {
		ph.Payload.Chunks[i] = strings.Repeat("0", 64)
	}
	ph.Payload.Volumes, ph.Payload.ChunksPerVolume = 9999, 1<<31
	// Refuse bad names, hooks or keys now, not after compressing the
	// whole release.
	if err := ph.validateRelease(); err != nil {
		return nil, &optionError{err}
	}
	pj, err := json.Marshal(&ph)
	if err != nil {
		return nil, err
	}
	area := (int64(len(pj)) + 1024 + 4095) / 4096 * 4096
	if area > MaxManifestSize {
		return nil, fmt.Errorf("pack: the manifest would need %d bytes, more than the %d the format allows: too many files", area, MaxManifestSize)
	}
	perVolume := maxChunks + 1
	if opts.Split > 0 {
		perVolume = (opts.Split - PreambleSize - area) / chunk
		if perVolume < 1 {
			return nil, fmt.Errorf("pack: --split %d is too small: a volume needs at least %d bytes (header %d + one %d-byte chunk)",
				opts.Split, PreambleSize+area+chunk, PreambleSize+area, chunk)
		}
	}
	w := &volumeWriter{base: opts.Output, area: area, chunk: chunk, perVolume: perVolume, buf: make([]byte, 0, chunk)}
	defer w.abort()
	tarSize, err := compressRelease(entries, m, opts.ReleaseDate, opts.Concurrency, w)
	if err != nil {
		return nil, err
	}
	if err := w.finishPayload(); err != nil {
		return nil, err
	}
	m.Payload.TarSize = tarSize
	m.Payload.Size = w.total
	m.Payload.Chunks = w.hashes
	m.Payload.Volumes = len(w.files)
	m.Payload.ChunksPerVolume = int(perVolume)
	if opts.Split == 0 {
		m.Payload.ChunksPerVolume = max(len(w.hashes), 1)
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("pack: %w", err)
	}
	mj, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	if int64(len(mj)) > area {
		return nil, fmt.Errorf("pack: internal error: manifest %d bytes exceeds reserved %d", len(mj), area)
	}
	h := &Header{VolumeCount: len(w.files), KeyID: opts.Key.ID(), Manifest: mj, Area: area}
	h.Signature = opts.Key.Sign(signedMessage(mj))
	names, err := w.commit(h)
	if err != nil {
		return nil, err
	}
	return &PackResult{Manifest: m, KeyID: opts.Key.ID(), Volumes: names}, nil
}

// optionError is a PackOptions value (or a file of the release) that the
// format does not allow; it reads "pack: product ...: why" instead of as a
// damaged bundle, and matches ErrMalformed or ErrUnsafe.
type optionError struct{ err error }

func (e *optionError) Error() string {
	msg := e.err.Error()
	for _, s := range []error{ErrMalformed, ErrUnsafe} {
		msg = strings.TrimPrefix(msg, s.Error()+": ")
	}
	return "pack: " + strings.TrimPrefix(msg, "manifest: ")
}

func (e *optionError) Unwrap() error { return e.err }

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

// walkRelease lists dir in lexical order, refusing anything but regular
// files, directories and symlinks that stay inside dir.
func walkRelease(dir string) ([]packEntry, error) {
	var out []packEntry
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("pack: --from-dir: %w", err)
		}
		if p == dir {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if err := checkPath(rel); err != nil {
			return fmt.Errorf("pack: --from-dir %q: %v; rename the file", dir, err)
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return fmt.Errorf("pack: %w", err)
		}
		mode := fi.Mode()
		if mode&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) != 0 {
			return fmt.Errorf("pack: %q: setuid, setgid and sticky bits are not allowed in a bundle; chmod the file", p)
		}
		e := packEntry{File: File{Path: rel, Mode: Mode(mode.Perm())}, abs: p}
		switch {
		case mode.IsRegular():
			e.Type, e.Size = TypeFile, fi.Size()
		case mode.IsDir():
			e.Type = TypeDir
		case mode&fs.ModeSymlink != 0:
			t, err := os.Readlink(p)
			if err != nil {
				return fmt.Errorf("pack: %w", err)
			}
			e.Type, e.Target, e.Mode = TypeSymlink, filepath.ToSlash(t), 0o777
			if err := checkLinkTarget(rel, e.Target); err != nil {
				return fmt.Errorf("pack: %q: %v; replace it with a copy or a relative link inside the release", p, err)
			}
		default:
			return fmt.Errorf("pack: %q: %s cannot be bundled (only files, directories and symlinks); remove it from the release tree", p, kindName(mode))
		}
		out = append(out, e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// kindName names a file type that cannot be bundled.
func kindName(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	}
	return "a special file (" + m.Type().String() + ")"
}

type frameJob struct {
	in   []byte
	out  []byte
	done chan struct{}
}

// compressRelease writes the tar stream of entries, compressed as
// independent zstd frames of frameSize input bytes, into w, and fills in each
// file's SHA-256 in m.Files. It returns the tar size.
func compressRelease(entries []packEntry, m *Manifest, mtime time.Time, conc int, w *volumeWriter) (int64, error) {
	if conc <= 0 {
		// Each compressing goroutine costs about 9 MiB (its frames in
		// flight and encoder tables); four keep pack under 64 MiB.
		conc = min(runtime.GOMAXPROCS(0), 4)
	}
	jobs := make(chan *frameJob)
	queue := make(chan *frameJob, conc+1)
	inPool := make(chan []byte, 2*conc+2)
	outPool := make(chan []byte, 2*conc+2)
	getBuf := func(pool chan []byte, n int) []byte {
		select {
		case b := <-pool:
			return b[:0]
		default:
			return make([]byte, 0, n)
		}
	}
	putBuf := func(pool chan []byte, b []byte) {
		select {
		case pool <- b:
		default:
		}
	}
	for range conc {
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1),
			zstd.WithEncoderCRC(false), zstd.WithWindowSize(frameSize), zstd.WithSingleSegment(true))
		if err != nil {
			return 0, err
		}
		go func() {
			for j := range jobs {
				j.out = enc.EncodeAll(j.in, getBuf(outPool, frameSize+frameSize/64))
				putBuf(inPool, j.in)
				j.in = nil
				close(j.done)
			}
		}()
	}
	// Writer side: frames in order into the volume writer.
	werr := make(chan error, 1)
	go func() {
		var err error
		for j := range queue {
			<-j.done
			if err == nil {
				err = w.Write(j.out)
			}
			putBuf(outPool, j.out)
		}
		werr <- err
	}()
	fw := &frameWriter{submit: func(b []byte) {
		j := &frameJob{in: b, done: make(chan struct{})}
		queue <- j
		jobs <- j
	}, get: func() []byte { return getBuf(inPool, frameSize) }}
	tarSize, err := writeTar(entries, m, mtime, fw)
	if err == nil {
		fw.flush()
	}
	close(jobs)
	close(queue)
	if e := <-werr; err == nil {
		err = e
	}
	return tarSize, err
}

// frameWriter cuts a byte stream into frameSize blocks.
type frameWriter struct {
	buf    []byte
	n      int64
	submit func([]byte)
	get    func() []byte
}

func (f *frameWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if f.buf == nil {
			f.buf = f.get()
		}
		k := min(len(p), frameSize-len(f.buf))
		f.buf = append(f.buf, p[:k]...)
		p = p[k:]
		if len(f.buf) == frameSize {
			f.submit(f.buf)
			f.buf = nil
		}
	}
	f.n += int64(n)
	return n, nil
}

func (f *frameWriter) flush() {
	if len(f.buf) > 0 {
		f.submit(f.buf)
		f.buf = nil
	}
}

func writeTar(entries []packEntry, m *Manifest, mtime time.Time, fw *frameWriter) (int64, error) {
	tw := tar.NewWriter(fw)
	buf := make([]byte, 256<<10)
	for i, e := range entries {
		hdr := &tar.Header{Name: e.Path, Mode: int64(e.Mode), ModTime: mtime, Format: tar.FormatPAX}
		switch e.Type {
		case TypeDir:
			hdr.Typeflag, hdr.Name = tar.TypeDir, e.Path+"/"
		case TypeSymlink:
			hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, e.Target
		case TypeFile:
			hdr.Typeflag, hdr.Size = tar.TypeReg, e.Size
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return 0, fmt.Errorf("pack: %s: %w", e.abs, err)
		}
		if e.Type != TypeFile {
			continue
		}
		// Not following a symlink, and only a regular file: the entry may
		// have been replaced since the walk (a link to a file outside the
		// release would otherwise be packed as its content).
		f, err := os.OpenFile(e.abs, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
		if err != nil {
			return 0, fmt.Errorf("pack: %w (was it replaced while packing?)", err)
		}
		if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
			f.Close()
			return 0, fmt.Errorf("pack: %s is no longer a regular file; pack a release tree nobody is writing to", e.abs)
		}
		h := sha256.New()
		n, err := io.CopyBuffer(io.MultiWriter(tw, h), io.LimitReader(f, e.Size), buf)
		if err == nil && n != e.Size {
			err = fmt.Errorf("%s shrank from %d to %d bytes while packing; pack a release tree nobody is writing to", e.abs, e.Size, n)
		}
		if err == nil {
			var one [1]byte
			if k, _ := f.Read(one[:]); k > 0 {
				err = fmt.Errorf("%s grew while packing; pack a release tree nobody is writing to", e.abs)
			}
		}
		f.Close()
		if err != nil {
			return 0, fmt.Errorf("pack: %w", err)
		}
		m.Files[i].SHA256 = hex.EncodeToString(h.Sum(nil))
	}
	if err := tw.Close(); err != nil {
		return 0, err
	}
	return fw.n, nil
}

// volumeWriter cuts the compressed stream into chunks, hashes them and
// writes them into volumes whose headers are filled in by commit.
type volumeWriter struct {
	base      string
	area      int64
	chunk     int64
	perVolume int64
	buf       []byte
	hashes    []string
	total     int64
	files     []*os.File
	committed bool
}

func (w *volumeWriter) tmpName(i int) string { return VolumeName(w.base, i) + ".partial" }

func (w *volumeWriter) Write(p []byte) error {
	for len(p) > 0 {
		k := min(len(p), int(w.chunk)-len(w.buf))
		w.buf = append(w.buf, p[:k]...)
		p = p[k:]
		if int64(len(w.buf)) == w.chunk {
			if err := w.emit(); err != nil {
				return err
			}
		}
	}
	return nil
}

func (w *volumeWriter) emit() error {
	idx := int64(len(w.hashes))
	if idx%w.perVolume == 0 {
		f, err := os.OpenFile(w.tmpName(len(w.files)), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return fmt.Errorf("pack: -o: %w", err)
		}
		w.files = append(w.files, f)
		if _, err := f.Write(make([]byte, PreambleSize+w.area)); err != nil {
			return fmt.Errorf("pack: %w", err)
		}
	}
	sum := sha256.Sum256(w.buf)
	w.hashes = append(w.hashes, hex.EncodeToString(sum[:]))
	if _, err := w.files[len(w.files)-1].Write(w.buf); err != nil {
		return fmt.Errorf("pack: %w", err)
	}
	w.total += int64(len(w.buf))
	w.buf = w.buf[:0]
	return nil
}

func (w *volumeWriter) finishPayload() error {
	if len(w.buf) > 0 || len(w.hashes) == 0 {
		return w.emit()
	}
	return nil
}

// commit writes each volume's header and renames the volumes into place.
// It does not fsync: a bundle damaged by a crash while packing fails its
// chunk hashes, and the vendor packs again. Stale higher-numbered volumes
// of an earlier bundle with the same name are removed so they cannot be
// mixed in later.
func (w *volumeWriter) commit(h *Header) ([]string, error) {
	var names []string
	for i, f := range w.files {
		hv := *h
		hv.VolumeIndex = i
		if _, err := f.WriteAt(append(hv.marshalPreamble(), h.Manifest...), 0); err != nil {
			return nil, fmt.Errorf("pack: %w", err)
		}
	}
	for i, f := range w.files {
		if err := f.Close(); err != nil {
			return nil, fmt.Errorf("pack: %w", err)
		}
		if err := os.Rename(w.tmpName(i), VolumeName(w.base, i)); err != nil {
			return nil, fmt.Errorf("pack: %w", err)
		}
		names = append(names, VolumeName(w.base, i))
	}
	w.committed = true
	for i := len(w.files); i < 10000; i++ {
		n := VolumeName(w.base, i)
		if isBundleFile(n) {
			os.Remove(n)
			continue
		}
		break
	}
	return names, nil
}

func isBundleFile(name string) bool {
	f, err := os.Open(name)
	if err != nil {
		return false
	}
	defer f.Close()
	var b [8]byte
	_, err = io.ReadFull(f, b[:])
	return err == nil && string(b[:]) == magic
}

func (w *volumeWriter) abort() {
	if w.committed {
		return
	}
	for i, f := range w.files {
		f.Close()
		os.Remove(w.tmpName(i))
	}
}
