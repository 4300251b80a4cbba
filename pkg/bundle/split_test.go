package bundle

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/airseal/airseal/pkg/keys"
)

func TestSplitVolumes(t *testing.T) {
	dir := t.TempDir()
	key := testKey(t, 1)
	ring := keys.NewKeyring(key.Public())
	src := filepath.Join(dir, "src")
	makeTree(t, src, "1.0.0", 5<<20)
	out := filepath.Join(dir, "rel.bundle")
	// Header area is one 4 KiB-aligned block here; two 1 MiB chunks per volume.
	res := pack(t, key, src, out, "1.0.0", func(o *PackOptions) { o.Split = 2<<20 + 64<<10 })
	if len(res.Volumes) != 3 {
		t.Fatalf("want 3 volumes, got %v (%d chunks)", res.Volumes, len(res.Manifest.Payload.Chunks))
	}
	for i, v := range res.Volumes {
		fi, err := os.Stat(v)
		if err != nil || fi.Size() > 2<<20+64<<10 {
			t.Fatalf("volume %d: %v size %d", i, err, fi.Size())
		}
		if v != VolumeName(out, i) {
			t.Fatalf("volume %d named %s", i, v)
		}
	}
	// Each volume alone, in any order.
	for _, order := range [][]int{{2}, {1}, {0}, {2, 0, 1}} {
		var names []string
		for _, i := range order {
			names = append(names, res.Volumes[i])
		}
		if len(order) == 1 && order[0] == 0 {
			// Given only the first volume, the others are found next to it;
			// hide them to check volume 1 alone.
			tmp := filepath.Join(dir, "alone")
			os.MkdirAll(tmp, 0o755)
			data, _ := os.ReadFile(res.Volumes[0])
			os.WriteFile(filepath.Join(tmp, "rel.bundle"), data, 0o644)
			names = []string{filepath.Join(tmp, "rel.bundle")}
		}
		b, err := Open(names, ring, nil)
		if err != nil {
			t.Fatal(err)
		}
		vr, err := b.Verify(VerifyOptions{})
		b.Close()
		if err != nil {
			t.Fatalf("order %v: %v", order, err)
		}
		wantComplete := len(order) == 3
		if vr.Complete != wantComplete || (wantComplete && vr.FilesChecked == 0) || (!wantComplete && vr.FilesChecked != 0) {
			t.Fatalf("order %v: %+v", order, vr)
		}
		if !wantComplete && vr.ChunksChecked != vr.Volumes[order[0]].Chunks {
			t.Fatalf("order %v: checked %d chunks, volume has %d", order, vr.ChunksChecked, vr.Volumes[order[0]].Chunks)
		}
	}
	// Installing needs every volume: MissingError names the missing ones.
	tmp := filepath.Join(dir, "partial")
	os.MkdirAll(tmp, 0o755)
	for _, i := range []int{0, 2} {
		data, _ := os.ReadFile(res.Volumes[i])
		os.WriteFile(VolumeName(filepath.Join(tmp, "rel.bundle"), i), data, 0o644)
	}
	pb, err := Open([]string{filepath.Join(tmp, "rel.bundle")}, ring, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = pb.MissingError()
	pb.Close()
	if !errors.Is(err, ErrVolume) || !strings.Contains(err.Error(), "volume(s) 2 of 3 missing") {
		t.Fatalf("volume 2 missing: %v", err)
	}
	// A damaged middle volume is named, alone and within the set.
	data, _ := os.ReadFile(res.Volumes[1])
	h, err := ReadHeader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	data[h.PayloadOffset()+(1<<20)+12345] ^= 1
	os.WriteFile(res.Volumes[1], data, 0o644)
	for _, names := range [][]string{{res.Volumes[1]}, {out}} {
		b, err := Open(names, ring, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = b.Verify(VerifyOptions{})
		b.Close()
		var ce *ChunkError
		if !errors.As(err, &ce) || ce.Volume != res.Volumes[1] || ce.Index != 3 ||
			!strings.Contains(err.Error(), "chunk 4 of 6 (offset "+itoa(h.PayloadOffset()+1<<20)+" in "+res.Volumes[1]+") is damaged") {
			t.Fatalf("verify %v: %v", names, err)
		}
	}
	// A volume of another bundle with the same name is refused.
	other := filepath.Join(dir, "other")
	makeTree(t, other, "1.0.1", 5<<20)
	res2 := pack(t, key, other, filepath.Join(dir, "other.bundle"), "1.0.1", func(o *PackOptions) { o.Split = 2<<20 + 64<<10 })
	_, err = Open([]string{out, res2.Volumes[1]}, ring, nil)
	if !errors.Is(err, ErrVolume) || !strings.Contains(err.Error(), "belongs to another bundle") {
		t.Fatalf("foreign volume: %v", err)
	}
	// A forged preamble volume index cannot reorder the payload.
	data, _ = os.ReadFile(res2.Volumes[2])
	binary.BigEndian.PutUint16(data[10:], 1)
	os.WriteFile(res2.Volumes[2], data, 0o644)
	b, err := Open([]string{res2.Volumes[2]}, ring, nil)
	if err == nil {
		_, err = b.Verify(VerifyOptions{})
		b.Close()
	}
	if !errors.Is(err, ErrDamaged) {
		t.Fatalf("relabelled volume: %v", err)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
