package seatserver

// This file is /metrics (issue 12 item 6): the Prometheus text format
// (github.com/prometheus/client_golang), served on a listener of its own
// (license-server serve --metrics-addr, loopback only), so neither the
// API's authentication nor its signed answers are involved and a scraper
// needs no token.

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/airseal/airseal/internal/seats"
	"github.com/airseal/airseal/internal/seatstore"
	"github.com/airseal/airseal/pkg/license"
	"github.com/airseal/airseal/pkg/usagereport"
)

// otherProduct labels usage events of products no installed license
// names: product names in refusals come from clients, and a label per
// name would let a client grow the metrics without bound.
const otherProduct = "(other)"

// Metrics are a server's Prometheus metrics. Use NewMetrics, wrap the
// store with Store before New, Attach the server, and give it to Run
// (RunOptions.Metrics) for request latency; Handler serves /metrics.
type Metrics struct {
	reg      *prometheus.Registry
	srv      atomic.Pointer[Server]
	mu       sync.Mutex // serializes updates of products
	products atomic.Pointer[map[string]bool]

	events   *prometheus.CounterVec
	refusals *prometheus.CounterVec
	expired  *prometheus.CounterVec
	lost     *prometheus.CounterVec
	commit   prometheus.Histogram
	commitE  prometheus.Counter
	requests *prometheus.HistogramVec

	descInUse, descSeats, descPeak, descExpiry, descNode, descLeases, descStoreUp *prometheus.Desc
}

// NewMetrics creates the metrics with their own registry (plus the Go
// runtime and process collectors).
func NewMetrics() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.events = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "airseal_usage_events_total",
		Help: "Usage-log events committed, by kind (grant, renew, release, expire, refuse, lost, checkpoint) and product."}, []string{"kind", "product"})
	m.refusals = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "airseal_refusals_total",
		Help: "Checkouts refused: reason no_seat (every seat in use) or demo (no valid license, answered in demo mode)."}, []string{"product", "reason"})
	m.expired = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "airseal_leases_reclaimed_total",
		Help: "Leases reclaimed because they were not renewed in time (zombie seats freed)."}, []string{"product"})
	m.lost = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "airseal_leases_lost_total",
		Help: "Leases taken away because their license was removed, revoked or expired."}, []string{"product"})
	m.commit = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "airseal_store_commit_duration_seconds",
		Help: "Time to make a group of changes durable in the store.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)})
	m.commitE = prometheus.NewCounter(prometheus.CounterOpts{Name: "airseal_store_commit_errors_total", Help: "Store commits that failed (refused grants included, and the insert of a cluster checkout that turns out to be a retry)."})
	m.requests = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "airseal_http_request_duration_seconds",
		Help: "API request latency, by method and status code.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}, []string{"method", "code"})
	m.descInUse = prometheus.NewDesc("airseal_seats_in_use", "Seats held now, per product.", []string{"product"}, nil)
	m.descSeats = prometheus.NewDesc("airseal_seats_licensed", "Seats licensed now (valid licenses combined), per product.", []string{"product"}, nil)
	m.descPeak = prometheus.NewDesc("airseal_seats_peak", "Most seats ever held at once, per product.", []string{"product"}, nil)
	m.descLeases = prometheus.NewDesc("airseal_leases", "Leases held now, all products.", nil, nil)
	m.descExpiry = prometheus.NewDesc("airseal_license_expiry_timestamp_seconds", "When an installed license expires (Unix time); absent for a perpetual one.", []string{"serial", "product"}, nil)
	m.descNode = prometheus.NewDesc("airseal_node_info", "This node: its name, response key and role (licensed, demo, or reclaim after a restart); always 1.", []string{"node", "response_key", "role"}, nil)
	m.descStoreUp = prometheus.NewDesc("airseal_store_up", "1 while this node reaches its store; 0 while a cluster node cannot reach its PostgreSQL database (it grants and renews nothing then: alert on it).", nil, nil)
	m.reg.MustRegister(m.events, m.refusals, m.expired, m.lost, m.commit, m.commitE, m.requests, (*stateCollector)(m),
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	empty := map[string]bool{}
	m.products.Store(&empty)
	return m
}

// Attach makes s the server whose state the gauges show.
func (m *Metrics) Attach(s *Server) {
	m.srv.Store(s)
	m.refreshProducts(s.Status())
}

func (m *Metrics) refreshProducts(st Status) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := make(map[string]bool, len(st.Products))
	for _, x := range st.Products {
		p[x.Product] = true
	}
	m.products.Store(&p)
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// wrap measures the latency of every request h answers.
func (m *Metrics) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(sw, r)
		method := r.Method
		switch method {
		case "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD":
		default:
			method = "other"
		}
		m.requests.WithLabelValues(method, strconv.Itoa(sw.code)).Observe(time.Since(start).Seconds())
	})
}

type statusWriter struct {
	http.ResponseWriter
	code int
	once sync.Once
}

func (w *statusWriter) WriteHeader(code int) {
	w.once.Do(func() { w.code = code })
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// stateCollector reads the attached server's state at each scrape.
type stateCollector Metrics

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.descInUse, c.descSeats, c.descPeak, c.descLeases, c.descExpiry, c.descNode, c.descStoreUp} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.srv.Load()
	if s == nil {
		return
	}
	st := s.Status()
	(*Metrics)(c).refreshProducts(st)
	for _, p := range st.Products {
		ch <- prometheus.MustNewConstMetric(c.descInUse, prometheus.GaugeValue, float64(p.InUse), p.Product)
		ch <- prometheus.MustNewConstMetric(c.descSeats, prometheus.GaugeValue, float64(p.Seats), p.Product)
		ch <- prometheus.MustNewConstMetric(c.descPeak, prometheus.GaugeValue, float64(p.Peak), p.Product)
	}
	ch <- prometheus.MustNewConstMetric(c.descLeases, prometheus.GaugeValue, float64(st.Leases))
	for _, l := range st.Licences {
		if l.ExpireDate != nil {
			ch <- prometheus.MustNewConstMetric(c.descExpiry, prometheus.GaugeValue, float64(l.ExpireDate.Unix()), l.KeyNo, l.KeyID)
		}
	}
	ch <- prometheus.MustNewConstMetric(c.descNode, prometheus.GaugeValue, 1, s.cfg.Node, s.keyID, st.Mode)
	up := 1.0
	if s.DatabaseDown() {
		up = 0
	}
	ch <- prometheus.MustNewConstMetric(c.descStoreUp, prometheus.GaugeValue, up)
}

// Store returns st instrumented: commit latency and errors, and the usage
// events each commit makes durable.
func (m *Metrics) Store(st seatstore.Store) seatstore.Store {
	if p, ok := st.(seatstore.Pipelined); ok {
		return &metricPipe{metricStore{Store: st, m: m}, p}
	}
	return &metricStore{Store: st, m: m}
}

type metricStore struct {
	seatstore.Store
	m *Metrics
}

// Unwrap returns the store measured (a cluster node finds its shared
// store through it).
func (s *metricStore) Unwrap() seatstore.Store { return s.Store }

func (s *metricStore) Commit(ctx context.Context, c seatstore.Change) error {
	start := time.Now()
	return s.observe(c, start, s.Store.Commit(ctx, c))
}

// CommitNow commits in the caller's goroutine when the measured store can
// (the SQL stores), so that the server's committer, which groups changes
// itself, does not hand its group to the store's writer goroutine and wait
// for a second grouping layer; otherwise it is Commit.
func (s *metricStore) CommitNow(ctx context.Context, c seatstore.Change) error {
	start := time.Now()
	if n, ok := s.Store.(nowCommitter); ok {
		return s.observe(c, start, n.CommitNow(ctx, c))
	}
	return s.observe(c, start, s.Store.Commit(ctx, c))
}

// metricPipe is metricStore over a store that commits in two phases: it
// keeps them apart for the server's committer (pipelining).
type metricPipe struct {
	metricStore
	p seatstore.Pipelined
}

// WriteCommit counts the commit once its wait returns.
func (s *metricPipe) WriteCommit(ctx context.Context, c seatstore.Change) (func() error, error) {
	start := time.Now()
	wait, err := s.p.WriteCommit(ctx, c)
	if err != nil || wait == nil {
		return nil, s.observe(c, start, err)
	}
	return func() error { return s.observe(c, start, wait()) }, nil
}

// observe records a commit of c that started at start and ended with err.
func (s *metricStore) observe(c seatstore.Change, start time.Time, err error) error {
	s.m.commit.Observe(time.Since(start).Seconds())
	if err != nil {
		s.m.commitE.Inc()
		return err
	}
	known := *s.m.products.Load()
	if len(c.PutLicenses) > 0 {
		s.m.mu.Lock()
		defer s.m.mu.Unlock()
		known = *s.m.products.Load()
		// A license installed names its product from now on.
		next := make(map[string]bool, len(known)+len(c.PutLicenses))
		for p := range known {
			next[p] = true
		}
		for _, r := range c.PutLicenses {
			if sl, err := license.DecodeServer(r.Raw); err == nil {
				next[sl.Product] = true
			}
		}
		s.m.products.Store(&next)
		known = next
	}
	for _, e := range c.Events {
		p := e.Product
		if !known[p] {
			p = otherProduct
		}
		s.m.events.WithLabelValues(eventKind(e.Kind), p).Inc()
		switch e.Kind {
		case seats.EventRefuse:
			reason := "no_seat"
			if len(e.Detail) >= len("no valid license") && e.Detail[:len("no valid license")] == "no valid license" {
				reason = "demo"
			}
			s.m.refusals.WithLabelValues(p, reason).Inc()
		case seats.EventExpire:
			s.m.expired.WithLabelValues(p).Inc()
		case seats.EventLost:
			s.m.lost.WithLabelValues(p).Inc()
		}
	}
	return nil
}

// eventKind keeps the kind label to the known kinds.
func eventKind(k seats.EventKind) string {
	switch k {
	case seats.EventGrant, seats.EventRenew, seats.EventRelease, seats.EventExpire, seats.EventRefuse, seats.EventLost:
		return string(k)
	case usagereport.KindCheckpoint:
		return usagereport.KindCheckpoint
	}
	return "other"
}
