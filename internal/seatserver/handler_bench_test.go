package seatserver

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/airseal/airseal/internal/seats"
	"github.com/airseal/airseal/internal/seatstore"
	"github.com/airseal/airseal/pkg/seat"
)

// benchWriter is a reusable http.ResponseWriter that keeps only the
// status and the size of the body.
type benchWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *benchWriter) Header() http.Header { return w.h }
func (w *benchWriter) WriteHeader(s int)   { w.status = s }
func (w *benchWriter) Write(b []byte) (int, error) {
	w.n += len(b)
	return len(b), nil
}

// handlerBench is a server on seatstore.Memory with one license, a
// client token and leases to renew, driven through its handler without a
// network: what the seat API costs per request in this package (the
// allocations per request above all; net/http's own are not counted).
type handlerBench struct {
	srv    *Server
	h      http.Handler
	auth   string
	leases []string
}

func newHandlerBench(b *testing.B) *handlerBench {
	ctx := context.Background()
	v := newVendor(b)
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	st := seatstore.NewMemory()
	tok := "bench-token-0123456789abcdefghijklmnopqrstuv"
	sum := sha256.Sum256([]byte(tok))
	if err := st.Commit(ctx, seatstore.Change{PutTokens: []seatstore.TokenRecord{{Name: "bench", Role: seat.RoleClient, SHA256: sum, Created: time.Now().UTC().Truncate(time.Second)}}}); err != nil {
		b.Fatal(err)
	}
	srv, err := New(ctx, Config{Store: st, Key: key, Keyring: v.ring(), Machine: bareMetal, Node: "srv1", Lease: MaxLease})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	arm, _ := v.issue(b, key.Public().(ed25519.PublicKey), lic{seats: 1_000_000, product: "bench"})
	if _, err := srv.Install(ctx, []byte(arm), "", ""); err != nil {
		b.Fatal(err)
	}
	hb := &handlerBench{srv: srv, h: srv.Handler(), auth: "Basic " + base64.StdEncoding.EncodeToString([]byte("bench:"+tok))}
	for i := range 64 {
		sess, _, err := srv.Checkout(ctx, seats.Request{Product: "bench", ClientSessionID: fmt.Sprintf("renew-%012d", i), AppName: "bench", UserName: "u", ComputerName: "c"})
		if err != nil {
			b.Fatal(err)
		}
		hb.leases = append(hb.leases, sess.ID)
	}
	return hb
}

// do sends one request through the handler and checks its status.
func (hb *handlerBench) do(b *testing.B, w *benchWriter, method, path, body string, i int, want int) {
	var r *http.Request
	if body == "" {
		r = httptest.NewRequest(method, path, http.NoBody)
	} else {
		r = httptest.NewRequest(method, path, strings.NewReader(body))
	}
	r.Header.Set("Authorization", hb.auth)
	r.Header.Set(seat.HeaderQueryID, fmt.Sprintf("bench-query-%012d", i))
	clear(w.h)
	w.status, w.n = 0, 0
	hb.h.ServeHTTP(w, r)
	if w.status != want {
		b.Fatalf("%s %s: status %d, want %d", method, path, w.status, want)
	}
}

// processCPU is the process's user and system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuPerOp reports the process's CPU time per operation from start (a
// loaded machine inflates it less than the wall time).
func cpuPerOp(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(processCPU()-start)/float64(b.N), "cpu-ns/op")
}

// BenchmarkHandlerRenew is POST /api/sessions/{ID}/renew through the
// handler (allocations per request: -benchmem; the request's own
// construction, httptest.NewRequest and two header sets, is included).
//
//	go test -run '^$' -bench BenchmarkHandler -benchmem ./internal/seatserver
func BenchmarkHandlerRenew(b *testing.B) {
	hb := newHandlerBench(b)
	w := &benchWriter{h: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	defer cpuPerOp(b, processCPU())
	for i := 0; i < b.N; i++ {
		hb.do(b, w, "POST", seat.RenewPath(hb.leases[i%len(hb.leases)]), "", i, http.StatusOK)
	}
}

// BenchmarkHandlerCheckout is POST /api/sessions, each a new session,
// through the handler.
func BenchmarkHandlerCheckout(b *testing.B) {
	hb := newHandlerBench(b)
	w := &benchWriter{h: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	defer cpuPerOp(b, processCPU())
	for i := 0; i < b.N; i++ {
		body := fmt.Sprintf(`{"Product":"bench","ClientSessionID":"checkout-%012d","AppName":"bench","UserName":"u","ComputerName":"c"}`, i)
		hb.do(b, w, "POST", seat.PathSessions, body, i, http.StatusCreated)
	}
}

// BenchmarkHandlerRenewParallel is BenchmarkHandlerRenew from several
// goroutines (group commit at work, as under the bench's 8 connections).
func BenchmarkHandlerRenewParallel(b *testing.B) {
	hb := newHandlerBench(b)
	b.ReportAllocs()
	b.SetParallelism(4)
	b.ResetTimer()
	defer cpuPerOp(b, processCPU())
	b.RunParallel(func(pb *testing.PB) {
		w := &benchWriter{h: http.Header{}}
		for i := 0; pb.Next(); i++ {
			hb.do(b, w, "POST", seat.RenewPath(hb.leases[i%len(hb.leases)]), "", i, http.StatusOK)
		}
	})
}
