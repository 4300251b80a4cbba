package qrcode

import (
	"bytes"
	"image"
	"image/png"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"
)

// Decode reads a QR code back from a PNG; tests of other packages use the
// same decoder to check their own round trips.
func decodePNG(t *testing.T, data []byte) string {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return decodeImage(t, img)
}

func decodeImage(t *testing.T, img image.Image) string {
	t.Helper()
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := zxqr.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		t.Fatalf("decoding QR: %v", err)
	}
	return res.GetText()
}

func TestPNGRoundTrip(t *testing.T) {
	for _, text := range []string{
		"ASL1-ABCD0",
		"ASR1-" + strings.Repeat("7KQ2X-", 150) + "00000",
	} {
		data, err := PNG(text, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got := decodePNG(t, data); got != text {
			t.Fatalf("decoded %q, want %q", got, text)
		}
	}
}

func TestTooLong(t *testing.T) {
	if _, err := PNG(strings.Repeat("x", 5000), 0); err == nil || !strings.Contains(err.Error(), "use the file") {
		t.Fatalf("got %v", err)
	}
	if _, err := Terminal(strings.Repeat("x", 5000)); err == nil {
		t.Fatal("terminal: too long accepted")
	}
}

func TestTerminal(t *testing.T) {
	s, err := Terminal("ASL1-ABCD0")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.ContainsAny(s, "█▀▄") || strings.Count(s, "\n") < 10 {
		t.Fatalf("not a block-character QR code:\n%s", s)
	}
}
