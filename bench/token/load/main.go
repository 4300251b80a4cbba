// Command load is a small HTTP/1.1 load generator for 'token serve': it
// sends client_credentials token requests over keep-alive connections,
// bounded in count and time, and prints throughput and latency percentiles.
// It speaks just enough HTTP/1.1 to stay cheap, so that on a small machine
// the client does not eat the CPU the server is measured on.
//
//	load -addr 127.0.0.1:18089 -client-id bench -secret S -c 16 -n 200000 -duration 30s
package main

import (
	"bufio"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18089", "server address")
	path := flag.String("path", "/token", "request path")
	id := flag.String("client-id", "", "client_id")
	secret := flag.String("secret", "", "client_secret")
	conns := flag.Int("c", 16, "concurrent connections")
	total := flag.Int64("n", 200000, "requests to send at most")
	maxDur := flag.Duration("duration", 30*time.Second, "time to run at most")
	warm := flag.Int("warmup", 2000, "requests sent first and not measured")
	flag.Parse()

	body := "grant_type=client_credentials"
	auth := base64.StdEncoding.EncodeToString([]byte(*id + ":" + *secret))
	req := []byte("POST " + *path + " HTTP/1.1\r\nHost: " + *addr + "\r\nAuthorization: Basic " + auth +
		"\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)

	// Warm-up on one connection.
	if err := run(*addr, req, int64(*warm), time.Now().Add(*maxDur), nil, nil, nil); err != nil {
		fmt.Fprintln(os.Stderr, "load: warm-up:", err)
		os.Exit(1)
	}
	var sent, bad atomic.Int64
	lat := make([][]time.Duration, *conns)
	deadline := time.Now().Add(*maxDur)
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, *conns)
	for i := range *conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(*addr, req, *total, deadline, &sent, &bad, &lat[i]); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	for err := range errs {
		fmt.Fprintln(os.Stderr, "load:", err)
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	if len(all) == 0 {
		fmt.Fprintln(os.Stderr, "load: no responses")
		os.Exit(1)
	}
	pct := func(p float64) time.Duration { return all[min(len(all)-1, int(p*float64(len(all))))] }
	fmt.Printf("requests %d in %.2fs over %d connections: %.0f req/s; non-200 %d\n",
		len(all), elapsed.Seconds(), *conns, float64(len(all))/elapsed.Seconds(), bad.Load())
	fmt.Printf("latency p50 %s p90 %s p99 %s max %s\n", pct(0.50), pct(0.90), pct(0.99), all[len(all)-1])
	if bad.Load() > 0 {
		os.Exit(1)
	}
}

// run sends requests on one connection until total requests have been
// claimed across all workers or the deadline passes.
func run(addr string, req []byte, total int64, deadline time.Time, sent, bad *atomic.Int64, lat *[]time.Duration) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	r := bufio.NewReaderSize(c, 8192)
	var local int64
	for {
		if sent != nil {
			if sent.Add(1) > total {
				return nil
			}
		} else if local++; local > total {
			return nil
		}
		t0 := time.Now()
		if t0.After(deadline) {
			return nil
		}
		if _, err := c.Write(req); err != nil {
			return err
		}
		ok, err := readResponse(r)
		if err != nil {
			return err
		}
		if lat != nil {
			*lat = append(*lat, time.Since(t0))
			if !ok {
				bad.Add(1)
			}
		} else if !ok {
			return fmt.Errorf("warm-up request refused; check -client-id and -secret")
		}
	}
}

func readResponse(r *bufio.Reader) (bool, error) {
	status, err := r.ReadString('\n')
	if err != nil {
		return false, err
	}
	n := -1
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			return false, err
		}
		if l == "\r\n" {
			break
		}
		if k, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(k, "Content-Length") {
			n, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	if n < 0 {
		return false, fmt.Errorf("response without Content-Length")
	}
	if _, err := io.CopyN(io.Discard, r, int64(n)); err != nil {
		return false, err
	}
	return strings.HasPrefix(status, "HTTP/1.1 200"), nil
}
