// Command quickstart selects from embeddings with the Datapool Go SDK,
// searches the pool and reads its history and report. Environment:
// DATAPOOL_SERVER (default 127.0.0.1:50051), DATAPOOL_TOKEN, DATAPOOL_CA
// (the PEM of the CA that signed the server's certificate; unset:
// plaintext).
package main

import (
	"context"
	"fmt"
	"log"
	"math/rand"
	"os"

	"datapool/client/go/datapool"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// batch makes n random 64-d embeddings: your model's output.
func batch(rng *rand.Rand, prefix string, n int) *datapool.Embeddings {
	e := &datapool.Embeddings{}
	for i := 0; i < n; i++ {
		row := make([]float32, 64)
		for j := range row {
			row[j] = float32(rng.NormFloat64())
		}
		e.Rows = append(e.Rows, row)
		e.Filenames = append(e.Filenames, fmt.Sprintf("%s/%04d.jpg", prefix, i))
	}
	return e
}

func main() {
	target := os.Getenv("DATAPOOL_SERVER")
	if target == "" {
		target = datapool.DefaultTarget
	}
	opts := datapool.Options{Token: os.Getenv("DATAPOOL_TOKEN")}
	if ca := os.Getenv("DATAPOOL_CA"); ca != "" {
		opts.TLS = &datapool.TLS{CAFile: ca}
	}
	client, err := datapool.Dial(target, opts)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	ctx := context.Background()
	rng := rand.New(rand.NewSource(0))

	// The 50 most diverse samples join the pool "demo" (created on first use).
	first := batch(rng, "batch1", 1000)
	r, err := client.Select(ctx, "demo", datapool.Candidates{Embeddings: first},
		datapool.SelectOptions{Count: 50})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(r.StopReason, "version", r.Version, "first pick", r.Selected[0].Filename)

	// A second batch: 10% of it, with progress while the call runs.
	r, err = client.Select(ctx, "demo", datapool.Candidates{Embeddings: batch(rng, "batch2", 500)},
		datapool.SelectOptions{Fraction: 0.1,
			Progress: func(phase string, done, total uint64) { fmt.Println(" ", phase, done, total) }})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(r.Selected), "picked, pool size", r.PoolSizeAfter)

	// The 3 nearest pool samples of a query, the versions, the last report.
	query := &datapool.Embeddings{Rows: first.Rows[:1]}
	hits, err := client.Search(ctx, "demo", datapool.Candidates{Embeddings: query}, 3)
	if err != nil {
		log.Fatal(err)
	}
	for _, n := range hits.Results[0].Neighbors {
		fmt.Printf("neighbour %s %.3f\n", n.Filename, n.Distance)
	}
	versions, err := client.History(ctx, "demo")
	if err != nil {
		log.Fatal(err)
	}
	for _, v := range versions {
		fmt.Println("version", v.Version, "size", v.Size)
	}
	report, err := client.Report(ctx, "demo", 0, false)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("report of version", report.Version, "in", report.Folder)

	// Every error carries a gRPC status code.
	_, err = client.Pool(ctx, "no-such-pool")
	if status.Code(err) == codes.NotFound {
		fmt.Println("NOT_FOUND:", status.Convert(err).Message())
	}
}
