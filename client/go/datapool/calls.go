package datapool

import (
	"context"

	pb "datapool/client/go/datapoolv1"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// DefaultK is the number of neighbours Search returns when k is 0.
const DefaultK = 5

// Search returns the k nearest pool samples of each query (k: 1..1000,
// 0 for DefaultK). Queries are Embeddings (named query_<i> when they have
// no filenames) or images the server embeds. Each QueryResult lists its
// neighbours nearest first, with the distance between the unit-normalised
// embeddings (0..2). Errors: NOT_FOUND for a missing pool,
// FAILED_PRECONDITION for another dimension or model, INVALID_ARGUMENT
// for a bad k.
func (c *Client) Search(ctx context.Context, pool string, queries Candidates,
	k uint32) (*pb.SearchResponse, error) {
	if err := queries.check("search"); err != nil {
		return nil, err
	}
	if k == 0 {
		k = DefaultK
	}
	if k > 1000 {
		return nil, status.Errorf(codes.InvalidArgument, "k must be in 1..1000, got %d", k)
	}
	first := &pb.SearchRequest{Pool: pool, K: k, InputPaths: queries.ServerPaths}
	var produce producer[pb.SearchRequest]
	if queries.Embeddings != nil {
		rows, err := queries.Embeddings.check("queries", true)
		if err != nil {
			return nil, err
		}
		produce = func(send func(*pb.SearchRequest) error) error {
			m := first
			return rows.eachBlock(c.chunkBytes, func(b *pb.EmbeddingBlock) error {
				if m == nil {
					m = &pb.SearchRequest{}
				}
				m.Queries = b
				err := send(m)
				m = nil
				return err
			})
		}
	} else {
		uploads, err := ListLocalImages(queries.Uploads)
		if err != nil {
			return nil, err
		}
		produce = func(send func(*pb.SearchRequest) error) error {
			m := first
			return eachImageGroup(uploads, c.chunkBytes, func(chunks []*pb.ImageChunk) error {
				if m == nil {
					m = &pb.SearchRequest{}
				}
				m.Images = chunks
				err := send(m)
				m = nil
				return err
			})
		}
	}
	return clientStreaming[pb.SearchRequest, pb.SearchResponse](ctx,
		func(ctx context.Context) (pb.Datapool_SearchClient, error) { return c.api.Search(ctx) },
		produce)
}

// EmbedOptions are Embed's parameters.
type EmbedOptions struct {
	// NoWeakLabels gives label 0 everywhere.
	NoWeakLabels bool
	// Pool: embed with that pool's model instead of the server's default
	// (the pool is not changed); NOT_FOUND when there is no such pool.
	Pool string
	// Progress, when set, is called as the call goes (EmbedWithProgress).
	Progress ProgressFunc
}

// Embed decodes and embeds images (server paths and/or uploads) with the
// server's model and returns the raw (not normalised) embeddings in input
// order; it touches no pool. EmbeddingsOf(r.Embeddings) gives them to
// Select or Search. Errors: FAILED_PRECONDITION when the server (or the
// pool) has no model, INVALID_ARGUMENT for no images or bad paths.
func (c *Client) Embed(ctx context.Context, images Candidates,
	opts EmbedOptions) (*pb.EmbedResponse, error) {
	if images.Embeddings != nil {
		return nil, status.Error(codes.InvalidArgument, "embed: give images, not embeddings")
	}
	if err := images.check("embed"); err != nil {
		return nil, err
	}
	uploads, err := ListLocalImages(images.Uploads)
	if err != nil {
		return nil, err
	}
	produce := func(send func(*pb.EmbedRequest) error) error {
		m := &pb.EmbedRequest{InputPaths: images.ServerPaths,
			AppendWeakLabels: proto.Bool(!opts.NoWeakLabels), Pool: opts.Pool}
		return eachImageGroup(uploads, c.chunkBytes, func(chunks []*pb.ImageChunk) error {
			if m == nil {
				m = &pb.EmbedRequest{}
			}
			m.Images = chunks
			err := send(m)
			m = nil
			return err
		})
	}
	if opts.Progress == nil {
		return clientStreaming[pb.EmbedRequest, pb.EmbedResponse](ctx,
			func(ctx context.Context) (pb.Datapool_EmbedClient, error) { return c.api.Embed(ctx) },
			produce)
	}
	var result *pb.EmbedResponse
	err = progressStreaming[pb.EmbedRequest, pb.EmbedProgress](ctx,
		func(ctx context.Context) (pb.Datapool_EmbedWithProgressClient, error) {
			return c.api.EmbedWithProgress(ctx)
		}, produce, func(m *pb.EmbedProgress) bool {
			if r := m.GetResult(); r != nil {
				result = r
				return true
			}
			reportProgress(opts.Progress, m.GetProgress())
			return false
		})
	if err != nil {
		return nil, err
	}
	return result, nil
}

// Pools lists every pool on the server.
func (c *Client) Pools(ctx context.Context) ([]*pb.PoolInfo, error) {
	r, err := c.api.ListPools(ctx, &pb.ListPoolsRequest{})
	if err != nil {
		return nil, err
	}
	return r.GetPools(), nil
}

// Pool describes one pool (size, dimension, version, times, folder,
// model). NOT_FOUND when it does not exist.
func (c *Client) Pool(ctx context.Context, name string) (*pb.PoolInfo, error) {
	return c.api.GetPool(ctx, &pb.GetPoolRequest{Pool: name})
}

// History lists the pool's kept versions and the current one, oldest
// first. NOT_FOUND when the pool does not exist.
func (c *Client) History(ctx context.Context, name string) ([]*pb.HistoryEntry, error) {
	r, err := c.api.ListHistory(ctx, &pb.ListHistoryRequest{Pool: name})
	if err != nil {
		return nil, err
	}
	return r.GetVersions(), nil
}

// Restore makes a kept version the pool's new latest, under a new version
// number, and returns the pool after it. NOT_FOUND for an unknown pool or
// version.
func (c *Client) Restore(ctx context.Context, name string, version uint64) (*pb.PoolInfo, error) {
	r, err := c.api.RestoreVersion(ctx, &pb.RestoreVersionRequest{Pool: name, Version: version})
	if err != nil {
		return nil, err
	}
	return r.GetPool(), nil
}

// Delete removes the pool's folder with its history and returns the pool
// as it was. NOT_FOUND when it does not exist.
func (c *Client) Delete(ctx context.Context, name string) (*pb.PoolInfo, error) {
	r, err := c.api.DeletePool(ctx, &pb.DeletePoolRequest{Pool: name})
	if err != nil {
		return nil, err
	}
	return r.GetDeleted(), nil
}

// Report returns the selection report of the pool's version (0: the
// newest report): report.json in Json, and report.html in Html when html
// is true (a few hundred KB). NOT_FOUND for a missing pool, or a version
// without a report (restores and merges write none).
func (c *Client) Report(ctx context.Context, name string, version uint64,
	html bool) (*pb.SelectionReport, error) {
	return c.api.GetReport(ctx, &pb.GetReportRequest{Pool: name, Version: version,
		IncludeHtml: html})
}
