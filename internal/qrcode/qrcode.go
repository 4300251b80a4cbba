// Package qrcode renders text as a QR code, as a PNG image or as block
// characters for a terminal, for sites where no file may leave a machine but
// a phone may photograph a screen.
package qrcode

import (
	"fmt"

	qr "github.com/skip2/go-qrcode"
)

// PNG returns a PNG image of text as a QR code with medium error correction.
// size is the image width in pixels; 0 picks one that keeps modules crisp.
func PNG(text string, size int) ([]byte, error) {
	q, err := qr.New(text, qr.Medium)
	if err != nil {
		return nil, fmt.Errorf("QR code: %w (the data is too long for one QR code; use the file instead)", err)
	}
	if size == 0 {
		size = -6 // six pixels per module
	}
	return q.PNG(size)
}

// Terminal returns text as a QR code drawn with half-block characters, two
// modules per character cell, dark on light.
func Terminal(text string) (string, error) {
	q, err := qr.New(text, qr.Low)
	if err != nil {
		return "", fmt.Errorf("QR code: %w (the data is too long for one QR code; use the file instead)", err)
	}
	return q.ToSmallString(false), nil
}
