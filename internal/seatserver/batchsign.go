package seatserver

// This file holds the batched response signer: answers ready at the same
// time share one Ed25519 signature over the root of a Merkle tree of
// their messages (pkg/seat/response_batch.go; docs/spec/
// seat-protocol-v1.md, "Batched signatures").

import (
	"crypto/ed25519"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/airseal/airseal/pkg/seat"
)

// batchSigner signs answers in the manner of group commit. An answer
// (of a client that accepts batches) that finds no signature being made
// yields once, so that the answers released with it by the same commit
// can queue, then signs itself with all that queued as one batch, or
// alone in today's form when none did (at low load: no wait, no proof).
// While a signature is being made, answers queue; when it is done, the
// first of them is woken to sign all that queued as one batch (it makes
// the tree and the signature and wakes the others with their proofs),
// and so on while answers keep queueing. No goroutine but the answers'
// own takes part, and each waiting answer is woken once.
//
// Answers are signed when they are sent, after their change is durable
// (writeSigned), never ahead: a batch signature goes to every answer of
// the batch, so an answer that is never sent (its commit failed) must
// not be in one, or its client could rebuild a signed answer from the
// proof another answer carries. Each answer's leaf hash is computed in
// its own goroutine ahead (while its change commits:
// Server.encodeAnswer). The zero value is ready to use.
type batchSigner struct {
	mu    sync.Mutex
	busy  bool         // a signature is being made (under mu)
	queue []*sigWaiter // answers waiting for the next signature (under mu)

	answers atomic.Int64 // answers signed
	sigs    atomic.Int64 // Ed25519 signatures made
}

// sigWaiter is one answer waiting in the queue.
type sigWaiter struct {
	msg  []byte    // seat.Response.Message
	leaf seat.Hash // its leaf hash
	done chan struct{}
	// Set before done is signalled.
	batch []*sigWaiter // non-nil: this answer signs this batch
	sig   []byte
	proof string
}

// sign returns the signature of the answer whose message is msg, and its
// Licence-Signature-Proof ("" when signed alone). batch says whether the
// client accepts a batched signature; without it the answer is signed
// alone at once, as before batching. With it, leaf is msg's leaf hash
// (seat.MessageLeafHash, computed by the caller ahead).
func (b *batchSigner) sign(key ed25519.PrivateKey, msg []byte, leaf seat.Hash, batch bool) (sig []byte, proof string) {
	b.answers.Add(1)
	if !batch {
		b.sigs.Add(1)
		return ed25519.Sign(key, msg), ""
	}
	b.mu.Lock()
	if !b.busy {
		b.busy = true
		b.mu.Unlock()
		// Let the goroutines that are runnable now (the other answers
		// of the commit that released this one) reach the queue first: a
		// yield, not a wait; with nothing else to run it returns at once.
		runtime.Gosched()
		b.mu.Lock()
		joined := b.takeLocked(seat.MaxBatch - 1)
		b.mu.Unlock()
		if len(joined) > 0 {
			self := &sigWaiter{msg: msg, leaf: leaf}
			b.signBatch(key, append([]*sigWaiter{self}, joined...))
			b.next()
			return self.sig, self.proof
		}
		b.sigs.Add(1)
		sig = ed25519.Sign(key, msg)
		b.next()
		return sig, ""
	}
	w := &sigWaiter{msg: msg, leaf: leaf, done: make(chan struct{}, 1)}
	b.queue = append(b.queue, w)
	b.mu.Unlock()
	<-w.done
	if w.batch != nil {
		b.signBatch(key, w.batch)
		b.next()
	}
	return w.sig, w.proof
}

// takeLocked removes and returns the first limit queued answers (b.mu
// held).
func (b *batchSigner) takeLocked(limit int) []*sigWaiter {
	n := min(len(b.queue), limit)
	batch := b.queue[:n:n]
	if n == len(b.queue) {
		b.queue = nil
	} else {
		b.queue = b.queue[n:]
	}
	return batch
}

// next hands the queued answers (at most seat.MaxBatch) to the first of
// them to sign, or marks the signer idle when none queue.
func (b *batchSigner) next() {
	b.mu.Lock()
	if len(b.queue) == 0 {
		b.busy = false
		b.mu.Unlock()
		return
	}
	batch := b.takeLocked(seat.MaxBatch)
	b.mu.Unlock()
	batch[0].batch = batch
	batch[0].done <- struct{}{}
}

// signBatch signs batch as one and wakes each answer of it but the first
// (which runs this) with its signature and proof. A batch of one is
// signed alone, in today's form.
func (b *batchSigner) signBatch(key ed25519.PrivateKey, batch []*sigWaiter) {
	b.sigs.Add(1)
	if len(batch) == 1 {
		batch[0].sig = ed25519.Sign(key, batch[0].msg)
		return
	}
	leaves := make([]seat.Hash, len(batch))
	for i, w := range batch {
		leaves[i] = w.leaf
	}
	sig, proofs, err := seat.SignBatch(key, leaves)
	for i, w := range batch {
		if err != nil {
			// Not reachable (2 to MaxBatch leaves); sign alone rather
			// than answer without a signature.
			w.sig, w.proof = ed25519.Sign(key, w.msg), ""
		} else {
			w.sig, w.proof = sig, proofs[i].String()
		}
		if i > 0 {
			w.done <- struct{}{}
		}
	}
}

// SignStats returns how many answers the server has signed and how many
// Ed25519 signatures that took: answers signed in a batch share one
// (answers per signature is the batching at work; 1 without it).
func (s *Server) SignStats() (answers, signatures int64) {
	return s.signer.answers.Load(), s.signer.sigs.Load()
}
