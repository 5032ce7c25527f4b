package datapool_test

// The SDK against the real server binary: TLS with a test CA, bearer
// tokens, selections from embeddings and from uploaded images, progress,
// search, pools, history and reports.

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"datapool/client/go/datapool"
	pb "datapool/client/go/datapoolv1"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

const callTimeout = 60 * time.Second

// testFixture: two servers sharing a test CA. main has the built-in model,
// TLS and the token; mtls has no model and also requires a client
// certificate signed by the CA.
type testFixture struct {
	dir  string
	pki  pki
	main *runningServer
	mtls *runningServer
}

var (
	fixtureOnce sync.Once
	fixture     *testFixture
	fixtureDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if fixture != nil {
		for _, s := range []*runningServer{fixture.main, fixture.mtls} {
			if s == nil {
				continue
			}
			if err := s.stop(); err != nil {
				fmt.Fprintln(os.Stderr, "FAIL: stopping the server:", err)
				code = 1
			}
		}
	}
	if fixtureDir != "" {
		os.RemoveAll(fixtureDir)
	}
	os.Exit(code)
}

// servers starts the servers on first use (skips without the binary).
func servers(t *testing.T) *testFixture {
	t.Helper()
	serverBinary(t)
	fixtureOnce.Do(func() {
		dir, err := os.MkdirTemp("", "datapool-go-sdk-")
		if err != nil {
			t.Fatal(err)
		}
		fixtureDir = dir
		f := &testFixture{dir: dir}
		if err := os.Mkdir(filepath.Join(dir, "pki"), 0o700); err != nil {
			t.Fatal(err)
		}
		f.pki = makePKI(t, filepath.Join(dir, "pki"))
		f.main = startServer(t, filepath.Join(dir, "main"), f.pki)
		f.mtls = startServer(t, filepath.Join(dir, "mtls"), f.pki, "--model", "none",
			"--tls-client-ca", f.pki.path("ca.pem"))
		fixture = f
	})
	if fixture == nil {
		t.Fatal("the servers did not start (see the first failure)")
	}
	return fixture
}

// dial connects to s with the test CA and, unless token is "", the token.
func dial(t *testing.T, s *runningServer, opts datapool.Options) *datapool.Client {
	t.Helper()
	if opts.TLS == nil {
		opts.TLS = &datapool.TLS{CAFile: fixture.pki.path("ca.pem")}
	}
	c, err := datapool.Dial(s.target(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), callTimeout)
	t.Cleanup(cancel)
	return c
}

func wantCode(t *testing.T, err error, code codes.Code, what string) {
	t.Helper()
	if status.Code(err) != code {
		t.Fatalf("%s: got %v, want code %v", what, err, code)
	}
}

func unit(v []float32) []float32 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(float64(x) / math.Sqrt(s))
	}
	return out
}

func randomRows(seed int64, n, d int, prefix string) *datapool.Embeddings {
	rng := rand.New(rand.NewSource(seed))
	e := &datapool.Embeddings{}
	for i := 0; i < n; i++ {
		row := make([]float32, d)
		for j := range row {
			row[j] = float32(rng.NormFloat64())
		}
		e.Rows = append(e.Rows, row)
		e.Filenames = append(e.Filenames, fmt.Sprintf("%s/%05d.jpg", prefix, i))
	}
	return e
}

func filenames(selected []*pb.SelectedSample) []string {
	var out []string
	for _, s := range selected {
		out = append(out, s.GetFilename())
	}
	return out
}

func TestTokenAndTLS(t *testing.T) {
	f := servers(t)
	noToken := dial(t, f.main, datapool.Options{})
	_, err := noToken.Pools(ctx(t))
	wantCode(t, err, codes.Unauthenticated, "no token")
	if h, err := noToken.Health(ctx(t)); err != nil || h != "SERVING" {
		t.Fatalf("health without a token (open for probes): %q, %v", h, err)
	}
	_, err = dial(t, f.main, datapool.Options{Token: "wrong"}).Pools(ctx(t))
	wantCode(t, err, codes.Unauthenticated, "wrong token")
	if _, err := dial(t, f.main, datapool.Options{Token: testToken}).Pools(ctx(t)); err != nil {
		t.Fatalf("with the token: %v", err)
	}
	// Plaintext to a TLS server, and a CA that did not sign its certificate.
	plain, err := datapool.Dial(f.main.target(), datapool.Options{Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	_, err = plain.Pools(ctx(t))
	wantCode(t, err, codes.Unavailable, "plaintext")
	otherCA := makePKI(t, t.TempDir())
	_, err = dial(t, f.main, datapool.Options{Token: testToken,
		TLS: &datapool.TLS{CAFile: otherCA.path("ca.pem")}}).Pools(ctx(t))
	wantCode(t, err, codes.Unavailable, "another CA")

	// Mutual TLS: the client certificate is required.
	_, err = dial(t, f.mtls, datapool.Options{Token: testToken}).Pools(ctx(t))
	wantCode(t, err, codes.Unavailable, "mutual TLS without a client certificate")
	mtls := dial(t, f.mtls, datapool.Options{Token: testToken, TLS: &datapool.TLS{
		CAFile: f.pki.path("ca.pem"), CertFile: f.pki.path("client.pem"),
		KeyFile: f.pki.path("client.key")}})
	pools, err := mtls.Pools(ctx(t))
	if err != nil || len(pools) != 0 {
		t.Fatalf("mutual TLS with the token: %v, %v", pools, err)
	}
	// By IP address, naming the certificate's host.
	byIP, err := datapool.Dial(fmt.Sprintf("127.0.0.1:%d", f.mtls.port), datapool.Options{
		Token: testToken, TLS: &datapool.TLS{CAFile: f.pki.path("ca.pem"),
			CertFile: f.pki.path("client.pem"), KeyFile: f.pki.path("client.key"),
			ServerName: "localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	defer byIP.Close()
	if _, err := byIP.Pools(ctx(t)); err != nil {
		t.Fatalf("by IP with ServerName: %v", err)
	}
	// TLS files that cannot be used are refused by Dial.
	_, err = datapool.Dial(f.main.target(), datapool.Options{TLS: &datapool.TLS{
		CAFile: filepath.Join(f.dir, "missing.pem")}})
	wantCode(t, err, codes.InvalidArgument, "missing CA file")
	_, err = datapool.Dial(f.main.target(), datapool.Options{TLS: &datapool.TLS{
		CertFile: f.pki.path("client.pem")}})
	wantCode(t, err, codes.InvalidArgument, "cert without key")
}

func TestSelectEmbeddingsSearchPoolsReport(t *testing.T) {
	f := servers(t)
	c := dial(t, f.main, datapool.Options{Token: testToken})
	// a and a2 nearly coincide; b and c are far from both and each other.
	rows := &datapool.Embeddings{
		Filenames: []string{"a.jpg", "a2.jpg", "b.jpg", "c.jpg"},
		Rows: [][]float32{{1, 0, 0, 0}, unit([]float32{1, 0.01, 0, 0}),
			{0, 1, 0, 0}, {0, 0, 1, 0}},
		Labels: []int64{1, 1, 2, 3},
	}
	r, err := c.Select(ctx(t), "go-emb", datapool.Candidates{Embeddings: rows},
		datapool.SelectOptions{Count: 3, Strategy: datapool.StrategyDiversity})
	if err != nil {
		t.Fatal(err)
	}
	picked := filenames(r.Selected)
	sort.Strings(picked)
	if len(picked) != 3 || picked[len(picked)-2] != "b.jpg" || picked[2] != "c.jpg" ||
		(picked[0] != "a.jpg" && picked[0] != "a2.jpg") {
		t.Fatalf("picks %v: want b, c and one of a, a2", picked)
	}
	if !r.Committed || r.Version != 1 || r.PoolSizeAfter != 3 ||
		r.StopReason != pb.StopReason_STOP_REASON_N_SAMPLES || r.CandidatesReceived != 4 {
		t.Fatalf("response %v", r)
	}
	for _, s := range r.Selected {
		if want := map[string]int64{"a.jpg": 1, "a2.jpg": 1, "b.jpg": 2, "c.jpg": 3}[s.Filename]; s.Label != want {
			t.Fatalf("%s has label %d, want %d", s.Filename, s.Label, want)
		}
	}

	// Search: the nearest pool sample of e2 is b.jpg itself.
	hits, err := c.Search(ctx(t), "go-emb", datapool.Candidates{Embeddings: &datapool.Embeddings{
		Rows: [][]float32{{0, 2, 0, 0}}}}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(hits.Results) != 1 || hits.Results[0].Query != "query_0" ||
		len(hits.Results[0].Neighbors) != 2 || hits.Results[0].Neighbors[0].Filename != "b.jpg" ||
		hits.Results[0].Neighbors[0].Distance > 1e-5 {
		t.Fatalf("search: %v", hits)
	}

	pools, err := c.Pools(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range pools {
		names = append(names, p.Name)
	}
	if !contains(names, "go-emb") {
		t.Fatalf("pools %v lack go-emb", names)
	}
	p, err := c.Pool(ctx(t), "go-emb")
	if err != nil || p.Size != 3 || p.Dimension != 4 || p.Version != 1 {
		t.Fatalf("pool: %v, %v", p, err)
	}
	report, err := c.Report(ctx(t), "go-emb", 0, true)
	if err != nil {
		t.Fatal(err)
	}
	var data map[string]interface{}
	if err := json.Unmarshal([]byte(report.Json), &data); err != nil || report.Version != 1 {
		t.Fatalf("report.json of version %d: %v", report.Version, err)
	}
	if !strings.Contains(strings.ToLower(report.Html), "<html") {
		t.Fatalf("report.html: %.200q", report.Html)
	}

	// One more pick (version 2), then back to version 1 (as version 3).
	r, err = c.Select(ctx(t), "go-emb", datapool.Candidates{Embeddings: &datapool.Embeddings{
		Filenames: []string{"d.jpg"}, Rows: [][]float32{{0, 0, 0, 1}}}},
		datapool.SelectOptions{Count: 1})
	if err != nil || r.Version != 2 || r.PoolSizeAfter != 4 {
		t.Fatalf("second select: %v, %v", r, err)
	}
	history, err := c.History(ctx(t), "go-emb")
	if err != nil || len(history) != 2 || history[0].Version != 1 || history[0].Size != 3 ||
		!history[1].Current || history[1].Size != 4 {
		t.Fatalf("history: %v, %v", history, err)
	}
	restored, err := c.Restore(ctx(t), "go-emb", 1)
	if err != nil || restored.Version != 3 || restored.Size != 3 {
		t.Fatalf("restore: %v, %v", restored, err)
	}

	// Errors carry their codes: the server's, and the client's own.
	_, err = c.Select(ctx(t), "go-emb", datapool.Candidates{Embeddings: &datapool.Embeddings{
		Filenames: []string{"e.jpg"}, Rows: [][]float32{{1, 0, 0, 0, 0}}}},
		datapool.SelectOptions{Count: 1})
	wantCode(t, err, codes.FailedPrecondition, "another dimension")
	_, err = c.Select(ctx(t), "go-emb", datapool.Candidates{Embeddings: rows}, datapool.SelectOptions{})
	wantCode(t, err, codes.InvalidArgument, "no stopping condition")
	_, err = c.Select(ctx(t), "go-emb", datapool.Candidates{Embeddings: &datapool.Embeddings{
		Filenames: []string{"x.jpg"}, Rows: [][]float32{{1, 0, 0, 0}, {0, 1, 0, 0}}}},
		datapool.SelectOptions{Count: 1})
	wantCode(t, err, codes.InvalidArgument, "one filename for two rows")
	_, err = c.Select(ctx(t), "go-emb", datapool.Candidates{Embeddings: rows, Uploads: []string{"x.png"}},
		datapool.SelectOptions{Count: 1})
	wantCode(t, err, codes.InvalidArgument, "embeddings and uploads")
	_, err = c.Select(ctx(t), "go-emb", datapool.Candidates{Embeddings: rows},
		datapool.SelectOptions{Count: 1, Strategy: "best"})
	wantCode(t, err, codes.InvalidArgument, "unknown strategy")
	_, err = c.Search(ctx(t), "go-emb", datapool.Candidates{Embeddings: rows}, 1001)
	wantCode(t, err, codes.InvalidArgument, "k of 1001")
	_, err = c.Report(ctx(t), "go-emb", 99, false)
	wantCode(t, err, codes.NotFound, "report of an unknown version")

	deleted, err := c.Delete(ctx(t), "go-emb")
	if err != nil || deleted.Name != "go-emb" {
		t.Fatalf("delete: %v, %v", deleted, err)
	}
	_, err = c.Pool(ctx(t), "go-emb")
	wantCode(t, err, codes.NotFound, "deleted pool")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Many rows in small messages, with progress: the phases in order, the
// selecting counts against the target, committing last.
func TestSelectWithProgressInChunks(t *testing.T) {
	f := servers(t)
	c := dial(t, f.main, datapool.Options{Token: testToken, ChunkBytes: 4096})
	rows := randomRows(4, 3000, 16, "prog")
	type update struct {
		phase       string
		done, total uint64
	}
	var seen []update
	r, err := c.Select(ctx(t), "go-progress", datapool.Candidates{Embeddings: rows},
		datapool.SelectOptions{Count: 300, Progress: func(phase string, done, total uint64) {
			seen = append(seen, update{phase, done, total})
		}})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Committed || len(r.Selected) != 300 || r.CandidatesReceived != 3000 {
		t.Fatalf("committed %v, %d picks of %d received", r.Committed, len(r.Selected),
			r.CandidatesReceived)
	}
	order := map[string]int{"receiving": 0, "embedding": 1, "selecting": 2, "committing": 3}
	selecting := 0
	for i, u := range seen {
		if _, ok := order[u.phase]; !ok {
			t.Fatalf("unknown phase %q", u.phase)
		}
		if i > 0 && order[u.phase] < order[seen[i-1].phase] {
			t.Fatalf("phases out of order: %v", seen)
		}
		if u.phase == "selecting" {
			selecting++
			if u.total != 300 || u.done > 300 {
				t.Fatalf("selecting %d of %d", u.done, u.total)
			}
		}
	}
	if selecting == 0 || seen[len(seen)-1] != (update{"committing", 1, 1}) {
		t.Fatalf("progress: %v", seen)
	}
	p, err := c.Pool(ctx(t), "go-progress")
	if err != nil || p.Size != 300 {
		t.Fatalf("pool: %v, %v", p, err)
	}
}

// writeNoise writes a PNG of random pixels (about 7 KB, so that small
// messages split it).
func writeNoise(t *testing.T, path string, seed int64) {
	t.Helper()
	rng := rand.New(rand.NewSource(seed))
	img := image.NewRGBA(image.Rect(0, 0, 48, 48))
	for i := range img.Pix {
		img.Pix[i] = uint8(rng.Intn(256))
	}
	for y := 0; y < 16; y++ { // a block of the seed's colour
		for x := 0; x < 16; x++ {
			img.Set(x, y, color.RGBA{uint8(seed * 60), 0, uint8(255 - seed*60), 255})
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if err := png.Encode(out, img); err != nil {
		t.Fatal(err)
	}
}

func TestSelectEmbedSearchUploads(t *testing.T) {
	f := servers(t)
	dir := t.TempDir()
	shots := filepath.Join(dir, "shots")
	writeNoise(t, filepath.Join(shots, "cats", "0.png"), 0)
	writeNoise(t, filepath.Join(shots, "cats", "1.png"), 1)
	writeNoise(t, filepath.Join(shots, "dogs", "0.png"), 2)
	writeNoise(t, filepath.Join(shots, "dogs", "sub", "1.png"), 3)
	if err := os.WriteFile(filepath.Join(shots, "notes.txt"), []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	writeNoise(t, filepath.Join(f.main.inputDir, "in", "x.png"), 4)

	images, err := datapool.ListLocalImages([]string{shots})
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, im := range images {
		listed = append(listed, fmt.Sprintf("%s:%d", im.Filename, im.Label))
	}
	want := []string{"shots/cats/0.png:0", "shots/cats/1.png:0", "shots/dogs/0.png:1",
		"shots/dogs/sub/1.png:1"}
	if strings.Join(listed, " ") != strings.Join(want, " ") {
		t.Fatalf("listed %v, want %v", listed, want)
	}

	c := dial(t, f.main, datapool.Options{Token: testToken, ChunkBytes: 1024})
	var phases []string
	r, err := c.Select(ctx(t), "go-img", datapool.Candidates{Uploads: []string{shots}},
		datapool.SelectOptions{Count: 3, Strategy: datapool.StrategyDiversity,
			Progress: func(phase string, done, total uint64) { phases = append(phases, phase) }})
	if err != nil {
		t.Fatal(err)
	}
	if r.CandidatesReceived != 4 || len(r.Skipped) != 0 || len(r.Selected) != 3 || !r.Committed {
		t.Fatalf("select uploads: %v", r)
	}
	for _, s := range r.Selected {
		wantLabel := int64(0) // the index of its first-level folder
		if strings.HasPrefix(s.Filename, "shots/dogs/") {
			wantLabel = 1
		}
		if !strings.HasPrefix(s.Filename, "shots/") || s.Label != wantLabel {
			t.Fatalf("pick %s with label %d, want %d", s.Filename, s.Label, wantLabel)
		}
	}
	if len(phases) == 0 || phases[len(phases)-1] != "committing" {
		t.Fatalf("phases %v: want committing last", phases)
	}
	p, err := c.Pool(ctx(t), "go-img")
	if err != nil || p.Size != 3 || p.Dimension == 0 || p.ModelFingerprint == "" {
		t.Fatalf("pool: %v, %v", p, err)
	}

	// Embed uploads and a file on the server; search the pool with them.
	var embedPhases []string
	e, err := c.Embed(ctx(t), datapool.Candidates{Uploads: []string{shots}, ServerPaths: []string{"in"}},
		datapool.EmbedOptions{Progress: func(phase string, done, total uint64) {
			embedPhases = append(embedPhases, phase)
		}})
	if err != nil {
		t.Fatal(err)
	}
	got := e.Embeddings.GetFilenames()
	sort.Strings(got)
	if strings.Join(got, " ") != "in/x.png shots/cats/0.png shots/cats/1.png shots/dogs/0.png shots/dogs/sub/1.png" ||
		e.Embeddings.Dimension != p.Dimension || e.ModelFingerprint != p.ModelFingerprint {
		t.Fatalf("embed: %v (%d-d), phases %v", got, e.Embeddings.Dimension, embedPhases)
	}
	for _, phase := range embedPhases {
		if phase != "receiving" && phase != "embedding" {
			t.Fatalf("embed phases %v", embedPhases)
		}
	}
	hits, err := c.Search(ctx(t), "go-img", datapool.Candidates{Embeddings: datapool.EmbeddingsOf(e.Embeddings)}, 1)
	if err != nil {
		t.Fatal(err)
	}
	selected := filenames(r.Selected)
	for _, q := range hits.Results {
		if contains(selected, q.Query) && (q.Neighbors[0].Filename != q.Query || q.Neighbors[0].Distance > 1e-4) {
			t.Fatalf("the nearest of %s is %v", q.Query, q.Neighbors)
		}
	}
	// The same images uploaded again: searched by the server's embedding.
	hits, err = c.Search(ctx(t), "go-img", datapool.Candidates{Uploads: []string{
		filepath.Join(shots, "cats", "0.png")}}, 1)
	if err != nil || len(hits.Results) != 1 || hits.Results[0].Query != "0.png" {
		t.Fatalf("search by upload: %v, %v", hits, err)
	}

	// Local paths that cannot be uploaded are refused before calling.
	_, err = c.Select(ctx(t), "go-img", datapool.Candidates{Uploads: []string{filepath.Join(dir, "missing")}},
		datapool.SelectOptions{Count: 1})
	wantCode(t, err, codes.NotFound, "a missing upload")
	_, err = c.Select(ctx(t), "go-img", datapool.Candidates{Uploads: []string{filepath.Join(shots, "notes.txt")}},
		datapool.SelectOptions{Count: 1})
	wantCode(t, err, codes.InvalidArgument, "not an image")
	if p2, err := c.Pool(ctx(t), "go-img"); err != nil || p2.Version != p.Version {
		t.Fatalf("the refused calls changed the pool: %v, %v", p2, err)
	}
}
