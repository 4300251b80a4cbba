package selfsigned

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestServeAndPinnedClient(t *testing.T) {
	dir := t.TempDir()
	cp, kp := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	if err := WriteFiles(cp, kp, []string{"localhost", "127.0.0.1"}, 24*time.Hour, false); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(kp); st.Mode().Perm() != 0o600 {
		t.Fatalf("key mode %v", st.Mode().Perm())
	}
	if err := WriteFiles(cp, kp, []string{"localhost"}, time.Hour, false); err == nil {
		t.Fatal("existing file overwritten without force")
	}
	cert, err := tls.LoadX509KeyPair(cp, kp)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	pemBytes, _ := os.ReadFile(cp)
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		t.Fatal("bad pem")
	}
	cl := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := cl.Get("https://" + ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "ok" {
		t.Fatalf("body %q", b)
	}
	// An unpinned client refuses it.
	if _, err := http.Get("https://" + ln.Addr().String()); err == nil {
		t.Fatal("unpinned client accepted self-signed cert")
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	if _, err := cl.Get("https://localhost:" + port); err != nil {
		t.Fatalf("DNS SAN: %v", err)
	}
}

func TestBadHost(t *testing.T) {
	if _, _, err := Generate([]string{"evil host\n"}, time.Hour, time.Now()); err == nil {
		t.Fatal("bad host accepted")
	}
	if _, _, err := Generate(nil, time.Hour, time.Now()); err == nil {
		t.Fatal("no host accepted")
	}
}
