package license

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/airseal/airseal/internal/typedcode"
	"github.com/airseal/airseal/pkg/keys"
)

// CodePrefix is the prefix of a license's typed code.
const CodePrefix = "ASL1"

// CommentPrefix starts each line of the unsigned comment in an armored file.
const CommentPrefix = "unsigned comment: "

const (
	armorLabel = "AIRSEAL LICENSE"
	lineWidth  = 64
)

// Sign sets KeyID to k's ID and signs the license with k.
func (l *License) Sign(k *keys.PrivateKey) error {
	l.KeyID = k.ID()
	p, err := l.MarshalPayload()
	if err != nil {
		return err
	}
	l.Signature = k.Sign(signedMessage(p))
	return nil
}

func signedMessage(payload []byte) []byte {
	m := make([]byte, 0, len(SignaturePrefix)+len(payload))
	m = append(m, SignaturePrefix...)
	return append(m, payload...)
}

// Raw returns the raw binary license: the canonical payload followed by the
// 64-byte signature. It is what the armored file and the typed code carry.
func (l *License) Raw() ([]byte, error) {
	if len(l.Signature) != SignatureSize {
		return nil, fmt.Errorf("license is not signed")
	}
	p, err := l.MarshalPayload()
	if err != nil {
		return nil, err
	}
	return append(p, l.Signature...), nil
}

// Armor returns the armored text file: the unsigned comment lines (if any),
// then the raw license in base64 between BEGIN and END lines.
func (l *License) Armor() ([]byte, error) {
	raw, err := l.Raw()
	if err != nil {
		return nil, err
	}
	return armor(armorLabel, raw, l.Comment), nil
}

// Code returns the license as a typed code (prefix ASL1).
func (l *License) Code() (string, error) {
	raw, err := l.Raw()
	if err != nil {
		return "", err
	}
	return typedcode.Encode(CodePrefix, raw), nil
}

func armor(label string, raw []byte, comment string) []byte {
	var b bytes.Buffer
	if comment != "" {
		for _, line := range strings.Split(comment, "\n") {
			b.WriteString(CommentPrefix)
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	b.WriteString("-----BEGIN " + label + "-----\n")
	s := base64.StdEncoding.EncodeToString(raw)
	for len(s) > lineWidth {
		b.WriteString(s[:lineWidth])
		b.WriteByte('\n')
		s = s[lineWidth:]
	}
	b.WriteString(s)
	b.WriteByte('\n')
	b.WriteString("-----END " + label + "-----\n")
	return b.Bytes()
}

// isArmored reports whether data contains an armor BEGIN line for label.
func isArmored(label string, data []byte) bool {
	return bytes.Contains(data, []byte("-----BEGIN "+label+"-----"))
}

// dearmor extracts the raw bytes and the comment from an armored file. The
// armor itself must be exactly as armor writes it (line width, padding,
// BEGIN/END lines); only CRLF line ends are accepted in place of LF. Before
// the BEGIN line only empty lines and comment lines may appear, after the
// END line only empty lines.
func dearmor(label string, data []byte) (raw []byte, comment string, err error) {
	if bytes.IndexByte(data, '\r') >= 0 {
		data = bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))
	}
	begin, end := "-----BEGIN "+label+"-----\n", "\n-----END "+label+"-----"
	i := bytes.Index(data, []byte(begin))
	if i < 0 || i > 0 && data[i-1] != '\n' {
		return nil, "", fmt.Errorf("no %q line", strings.TrimSpace(begin))
	}
	if i > 0 {
		var comments []string
		for n, l := range strings.Split(string(data[:i-1]), "\n") {
			switch {
			case l == "":
			case strings.HasPrefix(l, CommentPrefix):
				comments = append(comments, strings.TrimPrefix(l, CommentPrefix))
			default:
				return nil, "", fmt.Errorf("line %d: only %q lines may come before %q", n+1, strings.TrimSpace(CommentPrefix), strings.TrimSpace(begin))
			}
		}
		comment = strings.Join(comments, "\n")
	}
	rest := data[i+len(begin):]
	j := bytes.Index(rest, []byte(end))
	if j < 0 {
		return nil, "", fmt.Errorf("no %q line", strings.TrimSpace(end))
	}
	for _, c := range rest[j+len(end):] {
		if c != '\n' {
			return nil, "", fmt.Errorf("nothing may follow %q", strings.TrimSpace(end))
		}
	}
	// Canonical body: full lines of lineWidth characters, then one shorter
	// or full last line; strict base64 (zero padding bits).
	body := rest[:j]
	b64 := make([]byte, 0, len(body))
	for len(body) > 0 {
		n := bytes.IndexByte(body, '\n')
		if n < 0 {
			n = len(body)
		}
		last := n == len(body)
		if n == 0 || n > lineWidth || !last && n != lineWidth {
			return nil, "", fmt.Errorf("armor is not in canonical form (base64 lines must be %d characters)", lineWidth)
		}
		b64 = append(b64, body[:n]...)
		if last {
			break
		}
		body = body[n+1:]
	}
	raw = make([]byte, base64.StdEncoding.DecodedLen(len(b64)))
	n, err := base64.StdEncoding.Strict().Decode(raw, b64)
	if err != nil {
		return nil, "", fmt.Errorf("body is not base64: %v", err)
	}
	return raw[:n], comment, nil
}

// Encoding names how a license was given.
type Encoding string

// Encodings recognised by Decode.
const (
	EncodingFile Encoding = "file" // armored text
	EncodingCode Encoding = "code" // typed code (also what a QR code carries)
	EncodingRaw  Encoding = "raw"  // raw binary
)

// Detect reports which encoding input is in: armored file, typed code or raw.
func Detect(input []byte) Encoding {
	// The code test is typedcode's, the one every tool uses: a code with
	// its dashes left out or moved, or broken over lines, is still a code.
	// It stops at the first characters of anything else.
	if typedcode.LooksLike(string(input), CodePrefix) {
		return EncodingCode
	}
	if isArmored(armorLabel, input) {
		return EncodingFile
	}
	return EncodingRaw
}

// splitRaw decodes input in any encoding to the payload and signature.
func splitRaw(input []byte) (payload, sig []byte, comment string, err error) {
	var raw []byte
	switch Detect(input) {
	case EncodingFile:
		raw, comment, err = dearmor(armorLabel, input)
	case EncodingCode:
		raw, err = typedcode.Decode(CodePrefix, string(input))
	default:
		raw = input
		if len(raw) > 0 && (raw[0] >= 0x20 && raw[0] < 0x7f || raw[0] == '\t' || raw[0] == '\n' || raw[0] == '\r') {
			// A raw license starts with its version byte; text is a
			// file or a code that is not a license.
			return nil, nil, "", fmt.Errorf("%w: not a license: a license file has a %q line and a typed code starts with %q",
				ErrMalformed, "-----BEGIN "+armorLabel+"-----", CodePrefix+"-")
		}
	}
	if err != nil {
		return nil, nil, "", fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(raw) < SignatureSize+1 {
		return nil, nil, "", fmt.Errorf("%w: %d bytes is too short for a license", ErrMalformed, len(raw))
	}
	n := len(raw) - SignatureSize
	return raw[:n], raw[n:], comment, nil
}

// Decode parses a license in any encoding (armored file, typed code or raw)
// WITHOUT checking its signature, for inspection only. Never act on a
// license from Decode; use Verify.
func Decode(input []byte) (*License, error) {
	payload, sig, comment, err := splitRaw(input)
	if err != nil {
		return nil, err
	}
	l, err := UnmarshalPayload(payload)
	if err != nil {
		return nil, err
	}
	l.Signature = append([]byte(nil), sig...)
	l.Comment = comment
	return l, nil
}
