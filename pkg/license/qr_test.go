package license

import (
	"bytes"
	"image/png"
	"strings"
	"testing"

	"github.com/airseal/airseal/internal/qrcode"
	"github.com/makiuchi-d/gozxing"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"
)

// The QR code of the spec (rendered by internal/qrcode for issue) carries
// the typed code and decodes to the identical license.
func TestQRRoundTrip(t *testing.T) {
	k := testKey(t, 1)
	for _, n := range []int{0, 20} {
		l := signed(t, sampleLicense(n, n > 0), k)
		pngData, err := qrcode.PNG(mustCode(t, l), 0)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(pngData))
		if err != nil {
			t.Fatal(err)
		}
		bmp, err := gozxing.NewBinaryBitmapFromImage(img)
		if err != nil {
			t.Fatal(err)
		}
		res, err := zxqr.NewQRCodeReader().Decode(bmp, nil)
		if err != nil {
			t.Fatalf("%d features: decoding the QR PNG: %v", n, err)
		}
		if res.GetText() != mustCode(t, l) {
			t.Fatalf("QR carries %q, want the typed code", res.GetText())
		}
		got, err := Verify([]byte(res.GetText()), baseOpts(k))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(mustRaw(t, got), mustRaw(t, l)) {
			t.Fatal("QR license differs from the original")
		}
		term, err := qrcode.Terminal(mustCode(t, l))
		if err != nil || !strings.ContainsRune(term, '█') {
			t.Errorf("terminal QR: %v\n%s", err, term)
		}
	}
}
