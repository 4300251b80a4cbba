package seatserver

import (
	"encoding/json"
	"slices"
	"strconv"
	"time"

	"github.com/airseal/airseal/pkg/seat"
)

// appendSession appends s's JSON as encoding/json encodes a seat.Session,
// byte for byte (TestAppendSession, FuzzAppendSession), without its
// reflection: the answer to every checkout and renewal. ok is false when
// s holds a value this encoder leaves to encoding/json (a time outside
// years 0-9999, which encoding/json refuses): the caller uses json.Marshal.
func appendSession(b []byte, s *seat.Session) (_ []byte, ok bool) {
	for _, t := range [...]time.Time{s.Granted, s.Expires, s.ExpireTime} {
		if !jsonTimeOK(t) {
			return b, false
		}
	}
	if s.SessionStarted != nil && !jsonTimeOK(*s.SessionStarted) {
		return b, false
	}
	b = append(b, `{"ID":`...)
	b = appendJSONString(b, s.ID)
	b = append(b, `,"ClientSessionID":`...)
	b = appendJSONString(b, s.ClientSessionID)
	b = append(b, `,"Product":`...)
	b = appendJSONString(b, s.Product)
	b = append(b, `,"KeyID":`...)
	b = appendJSONString(b, s.KeyID)
	b = append(b, `,"Mode":`...)
	b = appendJSONString(b, s.Mode)
	if s.UsedLicence != "" {
		b = append(b, `,"UsedLicence":`...)
		b = appendJSONString(b, s.UsedLicence)
	}
	b = append(b, `,"AppName":`...)
	b = appendJSONString(b, s.AppName)
	b = append(b, `,"UserName":`...)
	b = appendJSONString(b, s.UserName)
	b = append(b, `,"ComputerName":`...)
	b = appendJSONString(b, s.ComputerName)
	b = append(b, `,"SessionStarted":`...)
	if s.SessionStarted == nil {
		b = append(b, "null"...)
	} else {
		b = appendJSONTime(b, *s.SessionStarted)
	}
	b = append(b, `,"Granted":`...)
	b = appendJSONTime(b, s.Granted)
	b = append(b, `,"Expires":`...)
	b = appendJSONTime(b, s.Expires)
	b = append(b, `,"ExpireTime":`...)
	b = appendJSONTime(b, s.ExpireTime)
	b = append(b, `,"Expired":`...)
	b = strconv.AppendBool(b, s.Expired)
	b = append(b, `,"RenewEvery":`...)
	b = strconv.AppendInt(b, int64(s.RenewEvery), 10)
	b = append(b, `,"Features":`...)
	switch {
	case s.Features == nil:
		b = append(b, "null"...)
	case len(s.Features) == 0:
		b = append(b, "{}"...)
	default:
		var small [8]string
		keys := small[:0]
		for k := range s.Features {
			keys = append(keys, k)
		}
		slices.Sort(keys) // encoding/json sorts map keys
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = strconv.AppendInt(b, s.Features[k], 10)
		}
		b = append(b, '}')
	}
	return append(b, '}'), true
}

// jsonTimeOK reports whether encoding/json encodes t (years 0-9999).
func jsonTimeOK(t time.Time) bool {
	y := t.Year()
	if y < 0 || y > 9999 {
		return false
	}
	// A zone offset with seconds, or beyond ±24h, is refused too.
	_, off := t.Zone()
	return off%60 == 0 && off > -24*3600 && off < 24*3600
}

// appendJSONTime appends t as time.Time.MarshalJSON does (RFC 3339 with
// the nanoseconds it has); the caller checked jsonTimeOK.
func appendJSONTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// appendJSONString appends v as encoding/json encodes a string: plain
// printable ASCII is copied; anything else (quotes, backslashes, control
// characters, <, > and & which it escapes for HTML, non-ASCII, invalid
// UTF-8) goes through encoding/json itself.
func appendJSONString(b []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			e, err := json.Marshal(v)
			if err != nil { // a string always encodes
				panic(err)
			}
			return append(b, e...)
		}
	}
	b = append(b, '"')
	b = append(b, v...)
	return append(b, '"')
}
