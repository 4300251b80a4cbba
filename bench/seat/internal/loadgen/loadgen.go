// Package loadgen is the client side the seat benchmarks share
// (bench/seat/server, bench/seat/cluster, bench/seat/logins): closed-loop
// load from N connections with its rate and p99, the bare net/http floor a
// seat server is compared with, and a checkout as a client makes it.
package loadgen

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/airseal/airseal/pkg/seat"
)

// Median returns the median of v (0 when empty), leaving v as it is.
func Median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

// Load runs op from conns goroutines for d and returns operations/s and
// the p99 latency in milliseconds. An error of op ends the program.
func Load(conns int, d time.Duration, op func(c, i int) error) (float64, float64) {
	var wg sync.WaitGroup
	lat := make([][]time.Duration, conns)
	deadline := time.Now().Add(d)
	start := time.Now()
	for c := 0; c < conns; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for i := 0; time.Now().Before(deadline); i++ {
				t0 := time.Now()
				if err := op(c, i); err != nil {
					log.Fatal(err)
				}
				lat[c] = append(lat[c], time.Since(t0))
			}
		}(c)
	}
	wg.Wait()
	el := time.Since(start)
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	p99 := 0.0
	if len(all) > 0 {
		p99 = float64(all[len(all)*99/100]) / float64(time.Millisecond)
	}
	return float64(len(all)) / el.Seconds(), p99
}

// StartFloor serves the floor: Basic auth against a SHA-256 token and one
// Ed25519 signature of the response (body, status 201), as the seat server
// does, nothing else. It returns the base URL and a stop function.
func StartFloor(key ed25519.PrivateKey, name, token string, body []byte) (string, func()) {
	sum := sha256.Sum256([]byte(token))
	keyID := seat.ResponseKeyID(key.Public().(ed25519.PublicKey))
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		got := sha256.Sum256([]byte(p))
		if !ok || u != name || subtle.ConstantTimeCompare(got[:], sum[:]) != 1 {
			w.WriteHeader(401)
			return
		}
		_, _ = io.Copy(io.Discard, r.Body)
		t := time.Now().UTC().Format(seat.TimeFormat)
		m := seat.Response{QueryID: r.Header.Get(seat.HeaderQueryID), Method: r.Method, Path: r.URL.EscapedPath(), Status: 201, Time: t, Body: body}
		w.Header().Set(seat.HeaderTime, t)
		w.Header().Set(seat.HeaderKey, keyID)
		w.Header().Set(seat.HeaderSignature, base64.StdEncoding.EncodeToString(m.Sign(key)))
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(201)
		_, _ = w.Write(body)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { _ = srv.Close() }
}

var queries atomic.Int64

// Do sends one request with Basic auth and a fresh query ID and returns
// the body when the status is one of want.
func Do(hc *http.Client, method, url, name, token string, body []byte, want ...int) ([]byte, error) {
	return DoBatch(hc, false, method, url, name, token, body, want...)
}

// DoBatch is Do that, when batch is set, also says that the client
// verifies batched response signatures (Licence-Signature-Batch, as
// pkg/seat does), so the server may sign its answer together with others.
func DoBatch(hc *http.Client, batch bool, method, url, name, token string, body []byte, want ...int) ([]byte, error) {
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth(name, token)
	req.Header.Set(seat.HeaderQueryID, fmt.Sprintf("bench-query-%012d", queries.Add(1)))
	if batch {
		req.Header.Set(seat.HeaderSignatureBatch, seat.BatchAccept)
	}
	res, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	for _, w := range want {
		if res.StatusCode == w {
			return b, nil
		}
	}
	return nil, fmt.Errorf("%s %s: %d %s", method, url, res.StatusCode, b)
}

// CheckoutBody is the body of a checkout of product "bench" for session.
func CheckoutBody(session string) []byte {
	body, _ := json.Marshal(seat.CheckoutRequest{Product: "bench", ClientSessionID: session, AppName: "bench", UserName: "u", ComputerName: "c"})
	return body
}

// SessionID decodes a session answer as a client does and returns its ID.
func SessionID(b []byte, err error) (string, error) {
	if err != nil {
		return "", err
	}
	var s seat.Session
	if err := json.Unmarshal(b, &s); err != nil {
		return "", err
	}
	return s.ID, nil
}
