package datapool_test

// The README's example is examples/quickstart/main.go, and it runs as the
// README says against the test server; the committed generated code is
// what client/go/regen.sh makes of the proto now.

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"datapool/client/go/datapool"
)

// sdkDir is client/go, found from the test's folder (client/go/datapool).
func sdkDir(t *testing.T) string {
	t.Helper()
	here, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := filepath.EvalSymlinks(filepath.Dir(here))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestReadmeExampleIsTheQuickstart(t *testing.T) {
	dir := sdkDir(t)
	readme, err := os.ReadFile(filepath.Join(dir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```go\n(.*?)```").FindAllSubmatch(readme, -1)
	if len(blocks) != 1 {
		t.Fatalf("README.md has %d go blocks, want 1", len(blocks))
	}
	main, err := os.ReadFile(filepath.Join(dir, "examples", "quickstart", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(blocks[0][1], main) {
		t.Fatal("README.md's go block differs from examples/quickstart/main.go: copy the file into the README")
	}
}

func TestReadmeExampleRuns(t *testing.T) {
	f := servers(t)
	dir := sdkDir(t)
	// The README's command, in a build folder of its own.
	cmd := exec.Command("bash", filepath.Join(dir, "go-env.sh"), t.TempDir(),
		"go", "run", "datapool/client/go/examples/quickstart")
	cmd.Env = append(os.Environ(), "DATAPOOL_SERVER="+f.main.target(),
		"DATAPOOL_TOKEN="+testToken, "DATAPOOL_CA="+f.pki.path("ca.pem"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, out)
	}
	text := string(out)
	for _, want := range []string{
		`(?m)^STOP_REASON_N_SAMPLES version 1 first pick batch1/\d{4}\.jpg$`,
		`(?m)^  selecting \d+ 50$`,
		`(?m)^  committing 1 1$`,
		`(?m)^50 picked, pool size 100$`,
		`(?m)^neighbour batch[12]/\d{4}\.jpg \d\.\d{3}$`,
		`(?m)^version 1 size 50\nversion 2 size 100$`,
		`(?m)^report of version 2 in /.+$`,
		`(?m)^NOT_FOUND: .*no-such-pool.*$`,
	} {
		if !regexp.MustCompile(want).MatchString(text) {
			t.Errorf("the example's output lacks %s:\n%s", want, text)
		}
	}
	if n := strings.Count(text, "\nneighbour "); n != 3 {
		t.Errorf("%d neighbours, want 3:\n%s", n, text)
	}
	c := dial(t, f.main, datapool.Options{Token: testToken})
	p, err := c.Pool(ctx(t), "demo")
	if err != nil || p.Size != 100 || p.Version != 2 {
		t.Fatalf("the example's pool: %v, %v", p, err)
	}
}

func TestGeneratedCodeIsCurrent(t *testing.T) {
	dir := sdkDir(t)
	fresh := t.TempDir()
	cmd := exec.Command("bash", filepath.Join(dir, "regen.sh"), fresh)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("regen.sh: %v\n%s", err, out)
	}
	list := func(d string) []string {
		names, err := filepath.Glob(filepath.Join(d, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for i, n := range names {
			names[i] = filepath.Base(n)
		}
		sort.Strings(names)
		return names
	}
	committed := filepath.Join(dir, "datapoolv1")
	if a, b := list(committed), list(fresh); strings.Join(a, " ") != strings.Join(b, " ") {
		t.Fatalf("datapoolv1 holds %v, regen.sh makes %v: run client/go/regen.sh", a, b)
	}
	for _, name := range list(fresh) {
		want, err := os.ReadFile(filepath.Join(fresh, name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(committed, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("datapoolv1/%s is stale: run client/go/regen.sh", name)
		}
	}
}
