package datapool_test

// The real server binary (env DATAPOOL_SERVER_BIN) on a free loopback port,
// with TLS (a test CA made here) and a bearer token, as
// tests/python/server_harness.py starts it for the Python tests.

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	testToken       = "go-sdk-token-7d1e4b"
	startupTimeout  = 30 * time.Second
	shutdownTimeout = 30 * time.Second
)

var listeningRE = regexp.MustCompile(`^datapool-server: listening on 127\.0\.0\.1:([0-9]{1,5})\s*$`)

// serverBinary is DATAPOOL_SERVER_BIN, or skips the test (fails it with
// DATAPOOL_REQUIRE_BINARIES=1, as CI runs it).
func serverBinary(t testing.TB) string {
	bin := os.Getenv("DATAPOOL_SERVER_BIN")
	if bin == "" {
		if os.Getenv("DATAPOOL_REQUIRE_BINARIES") == "1" {
			t.Fatal("DATAPOOL_SERVER_BIN is not set (DATAPOOL_REQUIRE_BINARIES=1)")
		}
		t.Skip("DATAPOOL_SERVER_BIN is not set")
	}
	return bin
}

// pki is a test CA with a server certificate (localhost, 127.0.0.1) and a
// client certificate, as PEM files in dir.
type pki struct {
	dir string
}

func (p pki) path(name string) string { return filepath.Join(p.dir, name) }

func makePKI(t testing.TB, dir string) pki {
	t.Helper()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	write := func(name, kind string, der []byte) {
		data := pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der})
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeKey := func(name string, k *ecdsa.PrivateKey) {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		write(name, "PRIVATE KEY", der)
	}
	now := time.Now()
	caKey := newKey()
	caTemplate := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "datapool-go-test-ca"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(48 * time.Hour),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTemplate, caTemplate, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	write("ca.pem", "CERTIFICATE", caDER)
	leaf := func(name string, serial int64, usage x509.ExtKeyUsage, dns []string, ips []net.IP) {
		key := newKey()
		template := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(48 * time.Hour),
			KeyUsage:    x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, DNSNames: dns, IPAddresses: ips,
		}
		der, err := x509.CreateCertificate(rand.Reader, template, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		write(name+".pem", "CERTIFICATE", der)
		writeKey(name+".key", key)
	}
	leaf("server", 2, x509.ExtKeyUsageServerAuth, []string{"localhost"},
		[]net.IP{net.ParseIP("127.0.0.1")})
	leaf("client", 3, x509.ExtKeyUsageClientAuth, nil, nil)
	return pki{dir: dir}
}

// runningServer is the server binary started on 127.0.0.1:0 with its own
// shared and input folders.
type runningServer struct {
	cmd      *exec.Cmd
	port     int
	inputDir string
	stderr   string // the log file
	mu       sync.Mutex
	stdout   []string
	drained  chan struct{}
}

// startServer starts the binary with TLS and the token and the extra
// arguments; the server is stopped (SIGTERM, exit status 0 expected) by
// stop.
func startServer(t testing.TB, dir string, p pki, extra ...string) *runningServer {
	t.Helper()
	bin := serverBinary(t)
	s := &runningServer{inputDir: filepath.Join(dir, "input"), stderr: filepath.Join(dir, "stderr.log"),
		drained: make(chan struct{})}
	for _, d := range []string{filepath.Join(dir, "shared"), s.inputDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	tokens := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokens, []byte("# go sdk test\n"+testToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"--shared-dir", filepath.Join(dir, "shared"), "--input-dir", s.inputDir,
		"--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0",
		"--auth-token-file", tokens,
		"--tls-cert", p.path("server.pem"), "--tls-key", p.path("server.key")}, extra...)
	s.cmd = exec.Command(bin, args...)
	logFile, err := os.Create(s.stderr)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	s.cmd.Stderr = logFile
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	port := make(chan int, 1)
	go s.drain(out, port)
	select {
	case s.port = <-port:
	case <-s.drained:
		s.cmd.Wait()
		t.Fatalf("the server exited before listening\n%s", s.describe())
	case <-time.After(startupTimeout):
		s.cmd.Process.Kill()
		s.cmd.Wait()
		t.Fatalf("the server did not listen within %v\n%s", startupTimeout, s.describe())
	}
	return s
}

// drain reads the server's stdout to its end, sending the port of the
// listening line.
func (s *runningServer) drain(out io.Reader, port chan<- int) {
	defer close(s.drained)
	scanner := bufio.NewScanner(out)
	sent := false
	for scanner.Scan() {
		line := scanner.Text()
		s.mu.Lock()
		s.stdout = append(s.stdout, line)
		s.mu.Unlock()
		if m := listeningRE.FindStringSubmatch(line); m != nil && !sent {
			var p int
			fmt.Sscan(m[1], &p)
			port <- p
			sent = true
		}
	}
}

func (s *runningServer) describe() string {
	s.mu.Lock()
	out := strings.Join(s.stdout, "\n")
	s.mu.Unlock()
	log, _ := os.ReadFile(s.stderr)
	return fmt.Sprintf("server: %s\n--- stdout ---\n%s\n--- stderr ---\n%s",
		strings.Join(s.cmd.Args, " "), out, log)
}

// target is "localhost:PORT", the name on the server's certificate.
func (s *runningServer) target() string { return fmt.Sprintf("localhost:%d", s.port) }

// stop sends SIGTERM and returns an error unless the server exits with
// status 0 in time.
func (s *runningServer) stop() error {
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() {
		<-s.drained
		done <- s.cmd.Wait()
	}()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("the server exited with %v\n%s", err, s.describe())
		}
		return nil
	case <-time.After(shutdownTimeout):
		s.cmd.Process.Kill()
		<-done
		return fmt.Errorf("the server did not exit within %v of SIGTERM\n%s",
			shutdownTimeout, s.describe())
	}
}
