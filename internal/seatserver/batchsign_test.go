package seatserver

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/airseal/airseal/pkg/seat"
)

func signerKey() ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, ed25519.SeedSize))
}

func signerMsg(i int) []byte {
	return seat.Response{QueryID: fmt.Sprintf("q-%016d", i), Method: "POST", Path: "/api/sessions", Status: 201,
		Time: "2026-12-01T09:00:00Z", Body: []byte(fmt.Sprintf(`{"ID":"L-%d"}`, i))}.Message()
}

// signerResponse is signerMsg's answer.
func signerResponse(i int) seat.Response {
	return seat.Response{QueryID: fmt.Sprintf("q-%016d", i), Method: "POST", Path: "/api/sessions", Status: 201,
		Time: "2026-12-01T09:00:00Z", Body: []byte(fmt.Sprintf(`{"ID":"L-%d"}`, i))}
}

// waitQueue waits until n answers queue in b.
func waitQueue(t *testing.T, b *batchSigner, n int) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(time.Millisecond) {
		b.mu.Lock()
		got := len(b.queue)
		b.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d answers queued, want %d", got, n)
		}
	}
}

// TestBatchSignerAlone: with nothing being signed, an answer is signed at
// once in today's form; an answer whose client does not accept batches
// is too, even while others are being signed.
func TestBatchSignerAlone(t *testing.T) {
	key := signerKey()
	pub := key.Public().(ed25519.PublicKey)
	var b batchSigner
	for _, batch := range []bool{true, false} {
		sig, proof := b.sign(key, signerMsg(1), seat.MessageLeafHash(signerMsg(1)), batch)
		if proof != "" || signerResponse(1).Verify(pub, sig) != nil {
			t.Fatalf("batch=%v: proof %q, or the signature does not verify alone", batch, proof)
		}
	}
	b.mu.Lock()
	b.busy = true // as while another answer is being signed
	b.mu.Unlock()
	sig, proof := b.sign(key, signerMsg(2), seat.Hash{}, false)
	if proof != "" || signerResponse(2).Verify(pub, sig) != nil {
		t.Fatalf("no batch accepted: proof %q, or the signature does not verify alone", proof)
	}
	if a, s := b.answers.Load(), b.sigs.Load(); a != 3 || s != 3 {
		t.Fatalf("stats %d answers, %d signatures; want 3, 3", a, s)
	}
}

// TestBatchSignerGroups: answers that queue while a signature is being
// made share the next one, each with a proof that verifies, for every
// batch size from 1 to 17; then the signer is idle again.
func TestBatchSignerGroups(t *testing.T) {
	key := signerKey()
	pub := key.Public().(ed25519.PublicKey)
	for n := 1; n <= 17; n++ {
		var b batchSigner
		b.busy = true
		sigs := make([][]byte, n)
		proofs := make([]string, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sigs[i], proofs[i] = b.sign(key, signerMsg(i), seat.MessageLeafHash(signerMsg(i)), true)
			}()
		}
		waitQueue(t, &b, n)
		b.next()
		wg.Wait()
		for i := range n {
			if n == 1 != (proofs[i] == "") {
				t.Fatalf("n=%d answer %d: proof %q", n, i, proofs[i])
			}
			if err := signerResponse(i).VerifyAnswer(pub, sigs[i], proofs[i]); err != nil {
				t.Fatalf("n=%d answer %d: %v", n, i, err)
			}
			if !bytes.Equal(sigs[i], sigs[0]) {
				t.Fatalf("n=%d: answers %d and 0 have different signatures", n, i)
			}
		}
		if a, s := b.answers.Load(), b.sigs.Load(); a != int64(n) || s != 1 {
			t.Fatalf("n=%d: stats %d answers, %d signatures; want %d, 1", n, a, s, n)
		}
		if b.busy || len(b.queue) != 0 {
			t.Fatalf("n=%d: signer left busy %v with %d queued", n, b.busy, len(b.queue))
		}
	}
}

// TestBatchSignerBounded: more than seat.MaxBatch queued answers are
// signed in batches of at most seat.MaxBatch, each verifying.
func TestBatchSignerBounded(t *testing.T) {
	key := signerKey()
	pub := key.Public().(ed25519.PublicKey)
	n := seat.MaxBatch + 3
	var b batchSigner
	b.busy = true
	var wg sync.WaitGroup
	var bad atomic.Int64
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sig, proof := b.sign(key, signerMsg(i), seat.MessageLeafHash(signerMsg(i)), true)
			if signerResponse(i).VerifyAnswer(pub, sig, proof) != nil {
				bad.Add(1)
			}
		}()
	}
	waitQueue(t, &b, n)
	b.next()
	wg.Wait()
	if bad.Load() != 0 || b.sigs.Load() != 2 {
		t.Fatalf("%d answers did not verify; %d signatures, want 2", bad.Load(), b.sigs.Load())
	}
}

// proofCounter counts the answers that carry a batch proof.
type proofCounter struct {
	next   http.RoundTripper
	proofs atomic.Int64
}

func (p *proofCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := p.next.RoundTrip(r)
	if err == nil && res.Header.Get(seat.HeaderSignatureProof) != "" {
		p.proofs.Add(1)
	}
	return res, err
}

// TestBatchedAnswersWithClient: concurrent checkouts whose answers are
// ready together get one batch signature, and the real client verifies
// every one of them; a request without Licence-Signature-Batch is
// answered at once, signed alone, meanwhile.
func TestBatchedAnswersWithClient(t *testing.T) {
	e := newEnv(t)
	arm, _ := e.v.issue(t, e.pub, lic{seats: 100})
	e.install(arm, 201)
	ctx := context.Background()
	const n = 8
	rt := &proofCounter{next: http.DefaultTransport}
	clients := make([]*seat.Client, n)
	for i := range clients {
		clients[i] = e.client(t, client, func(c *seat.Config) { c.HTTPClient = &http.Client{Transport: rt} })
		// Trust first (GET /api/serverinfo), so only checkouts queue below.
		if _, err := clients[i].Checkout(ctx, seat.Request{ClientSessionID: sid(100 + i)}); err != nil {
			t.Fatal(err)
		}
	}
	if rt.proofs.Load() != 0 {
		t.Fatalf("%d answers batched while nothing else was being signed", rt.proofs.Load())
	}
	a0, s0 := e.srv.SignStats()
	e.srv.signer.mu.Lock()
	e.srv.signer.busy = true // as while another answer is being signed
	e.srv.signer.mu.Unlock()
	errs := make(chan error, n)
	for i, c := range clients {
		go func() {
			_, err := c.Checkout(ctx, seat.Request{ClientSessionID: sid(i)})
			errs <- err
		}()
	}
	waitQueue(t, &e.srv.signer, n)
	// An old client's request is not held back by the queue.
	if r := e.do("GET", seat.PathServerInfo, client, nil); r.status != 200 || r.header.Get(seat.HeaderSignatureProof) != "" {
		t.Fatalf("request without %s: %d, proof %q", seat.HeaderSignatureBatch, r.status, r.header.Get(seat.HeaderSignatureProof))
	}
	e.srv.signer.next()
	for range n {
		if err := <-errs; err != nil {
			t.Fatalf("a batched answer: %v", err)
		}
	}
	if got := rt.proofs.Load(); got != n {
		t.Fatalf("%d answers carried a proof, want %d", got, n)
	}
	if a, s := e.srv.SignStats(); a-a0 != n+1 || s-s0 != 2 {
		t.Fatalf("%d answers with %d signatures, want %d with 2", a-a0, s-s0, n+1)
	}
	// Without help from the test: concurrent checkouts (of the sessions
	// held: idempotent), each answer verified however it was signed.
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				if _, err := c.Checkout(ctx, seat.Request{ClientSessionID: sid(i)}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestBatchSignerConcurrent: answers signed from many goroutines at once,
// some of clients that accept batches and some not, each verify, and no
// answer is left waiting.
func TestBatchSignerConcurrent(t *testing.T) {
	key := signerKey()
	pub := key.Public().(ed25519.PublicKey)
	var b batchSigner
	const workers, each = 16, 50
	var wg sync.WaitGroup
	var bad, batched atomic.Int64
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range each {
				i := g*each + j
				batch := i%5 != 0
				sig, proof := b.sign(key, signerMsg(i), seat.MessageLeafHash(signerMsg(i)), batch)
				if proof != "" {
					batched.Add(1)
				}
				if signerResponse(i).VerifyAnswer(pub, sig, proof) != nil || !batch && proof != "" {
					bad.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if bad.Load() != 0 {
		t.Fatalf("%d answers did not verify", bad.Load())
	}
	if a, s := b.answers.Load(), b.sigs.Load(); a != workers*each || s > a || s < 1 {
		t.Fatalf("stats %d answers, %d signatures", a, s)
	}
	if b.busy || len(b.queue) != 0 {
		t.Fatalf("signer left busy %v with %d queued", b.busy, len(b.queue))
	}
	t.Logf("%d answers, %d signatures, %d in batches", b.answers.Load(), b.sigs.Load(), batched.Load())
}
