package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/airseal/airseal/internal/cli"
	"github.com/airseal/airseal/internal/seatserver"
)

// serveMetrics serves /metrics on its own listener, which must be a
// loopback address: the metrics need no token, so they stay on the
// machine (a local Prometheus agent or node exporter textfile scrapes
// them). It returns a function that stops the listener.
func serveMetrics(addr string, m *seatserver.Metrics, log *slog.Logger) (func(), error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, cli.Usage("--metrics-addr %q: want HOST:PORT such as 127.0.0.1:9100", addr)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, cli.Usage("--metrics-addr %s: /metrics needs no token, so it listens on loopback only (127.0.0.1 or [::1]); scrape it with a local agent", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, cli.Fail(cli.ExitError, fmt.Errorf("--metrics-addr: %w", err), "choose another --metrics-addr")
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 15 * time.Second, MaxHeaderBytes: 8 << 10}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics listener", "err", err)
		}
	}()
	log.Info("metrics", "addr", ln.Addr().String(), "path", "/metrics")
	return func() { srv.Close() }, nil
}
