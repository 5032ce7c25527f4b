package datapool

import (
	"context"
	"fmt"

	pb "datapool/client/go/datapoolv1"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// Embeddings are candidates or queries given as vectors: one row per
// filename, every row of the same length (the dimension). The server
// normalises them to unit length.
type Embeddings struct {
	// Filenames name the rows, one each, unique (relative paths as in
	// the pool's CSV). Search may leave them out: query_0, query_1, ...
	Filenames []string
	Rows      [][]float32
	// Labels: nil, or one weak label per row.
	Labels []int64
}

// EmbeddingsOf turns a block the server returned (EmbedResponse's) into
// Embeddings, to select or search with.
func EmbeddingsOf(b *pb.EmbeddingBlock) *Embeddings {
	d := int(b.GetDimension())
	e := &Embeddings{Filenames: b.GetFilenames(), Labels: b.GetLabels()}
	values := b.GetValues()
	for i := range e.Filenames {
		if d > 0 && (i+1)*d <= len(values) {
			e.Rows = append(e.Rows, values[i*d:(i+1)*d])
		}
	}
	return e
}

// check refuses rows that cannot be put into a request; defaultNames
// gives unnamed rows the names query_<i>.
func (e *Embeddings) check(what string, defaultNames bool) (*Embeddings, error) {
	n := len(e.Rows)
	out := *e
	if out.Filenames == nil && defaultNames {
		out.Filenames = make([]string, n)
		for i := range out.Filenames {
			out.Filenames[i] = fmt.Sprintf("query_%d", i)
		}
	}
	if len(out.Filenames) != n {
		return nil, status.Errorf(codes.InvalidArgument,
			"%d filenames for %d rows of %s: need one per row", len(out.Filenames), n, what)
	}
	if out.Labels != nil && len(out.Labels) != n {
		return nil, status.Errorf(codes.InvalidArgument,
			"%d labels for %d rows of %s: need one per row (or none)", len(out.Labels), n, what)
	}
	for i, row := range out.Rows {
		if len(row) != len(out.Rows[0]) {
			return nil, status.Errorf(codes.InvalidArgument,
				"%s: row %d has %d values, row 0 has %d: every row needs the same dimension",
				what, i, len(row), len(out.Rows[0]))
		}
	}
	return &out, nil
}

// eachBlock calls emit with the rows in blocks of about chunkBytes, at
// least one block.
func (e *Embeddings) eachBlock(chunkBytes int, emit func(*pb.EmbeddingBlock) error) error {
	n := len(e.Rows)
	d := 0
	if n > 0 {
		d = len(e.Rows[0])
	}
	perBlock := chunkBytes / (d*4 + 64)
	if perBlock < 1 {
		perBlock = 1
	}
	for begin := 0; ; {
		end := begin + perBlock
		if end > n {
			end = n
		}
		b := &pb.EmbeddingBlock{Dimension: uint32(d), Filenames: e.Filenames[begin:end],
			Values: make([]float32, 0, (end-begin)*d)}
		for _, row := range e.Rows[begin:end] {
			b.Values = append(b.Values, row...)
		}
		if e.Labels != nil {
			b.Labels = e.Labels[begin:end]
		}
		if err := emit(b); err != nil {
			return err
		}
		begin = end
		if begin >= n {
			return nil
		}
	}
}

// Candidates are what a selection picks from (or a search asks about):
// either Embeddings, or images the server embeds with its model,
// ServerPaths and/or Uploads.
type Candidates struct {
	Embeddings *Embeddings
	// ServerPaths are files or folders under the server's --input-dir,
	// relative to it.
	ServerPaths []string
	// Uploads are local image files or folders, sent in chunks (named and
	// labelled as ListLocalImages says).
	Uploads []string
}

func (c *Candidates) check(what string) error {
	images := len(c.ServerPaths) > 0 || len(c.Uploads) > 0
	if c.Embeddings != nil && images {
		return status.Errorf(codes.InvalidArgument,
			"%s: give either embeddings or images (server paths, uploads), not both", what)
	}
	if c.Embeddings == nil && !images {
		return status.Errorf(codes.InvalidArgument,
			"%s: no candidates: give embeddings (with filenames), server paths or uploads", what)
	}
	return nil
}

// Strategies of SelectOptions.Strategy.
const (
	// StrategyTypical is the server's default: diverse picks that prefer
	// samples from dense regions (DIVERSITY and TYPICALITY objectives).
	StrategyTypical = "typical"
	// StrategyDiversity is plain greedy k-center, farthest first.
	StrategyDiversity = "diversity"
)

// SelectOptions are a selection's parameters. The zero value of each field
// is the server's default; at least one of Count, Fraction and MinDistance
// is needed (with more than one, the first met stops).
type SelectOptions struct {
	// Count stops after this many picks.
	Count uint64
	// Fraction stops after this fraction, in (0, 1], of the eligible
	// candidates (rounded down). Not with Count.
	Fraction float64
	// MinDistance stops when the farthest remaining candidate is closer
	// than this (0..2) to the pool and the picks so far; nil: no limit.
	MinDistance *float64
	// DryRun computes the picks and changes nothing.
	DryRun bool
	// Report, with DryRun, returns the selection report in the response
	// (a committed selection always writes its report on the server).
	Report bool
	// NoHistory keeps no copy of the replaced version.
	NoHistory bool
	// NoWeakLabels records label 0 for images instead of their
	// first-level folder's index.
	NoWeakLabels bool
	// KeepDuplicates keeps candidates whose embedding equals an earlier
	// one's.
	KeepDuplicates bool
	// Strategy is "" (the server's default, StrategyTypical),
	// StrategyTypical or StrategyDiversity. Not with Config.
	Strategy string
	// Config orders the candidates by objectives (see SelectionConfig in
	// the proto).
	Config *pb.SelectionConfig
	// Columns are numbers per candidate for objectives that read a column
	// (INPUT_COLUMN, INPUT_SCORES); sent with the first message.
	Columns *pb.CandidateColumns
	// Progress, when set, is called as the call goes (SelectWithProgress).
	Progress ProgressFunc
}

// Float64 returns a pointer to v, for SelectOptions.MinDistance.
func Float64(v float64) *float64 { return &v }

func (o *SelectOptions) params(pool string) (*pb.SelectionParams, error) {
	if o.Report && !o.DryRun {
		return nil, status.Error(codes.InvalidArgument,
			"Report is for dry runs; a committed selection always writes its report (see Client.Report)")
	}
	p := &pb.SelectionParams{
		Pool: pool, DryRun: o.DryRun, DryRunReport: o.Report,
		KeepHistory:      proto.Bool(!o.NoHistory),
		AppendWeakLabels: proto.Bool(!o.NoWeakLabels),
		RemoveDuplicates: proto.Bool(!o.KeepDuplicates),
		MinDistance:      o.MinDistance,
	}
	switch {
	case o.Count > 0 && o.Fraction != 0:
		return nil, status.Error(codes.InvalidArgument, "give Count or Fraction, not both")
	case o.Count > 0:
		p.NSamples = &pb.SelectionParams_NSamplesCount{NSamplesCount: o.Count}
	case o.Fraction != 0:
		p.NSamples = &pb.SelectionParams_NSamplesFraction{NSamplesFraction: o.Fraction}
	}
	if o.Strategy != "" && o.Config != nil {
		return nil, status.Error(codes.InvalidArgument, "give Strategy or Config, not both")
	}
	switch o.Strategy {
	case "", StrategyTypical:
		p.Config = o.Config
	case StrategyDiversity:
		p.Config = &pb.SelectionConfig{Objectives: []*pb.SelectionObjective{{
			Input:    pb.SelectionObjective_INPUT_EMBEDDINGS,
			Strategy: pb.SelectionObjective_STRATEGY_DIVERSITY}}}
	default:
		return nil, status.Errorf(codes.InvalidArgument,
			"Strategy must be %q or %q (or empty: the server's default), got %q",
			StrategyTypical, StrategyDiversity, o.Strategy)
	}
	return p, nil
}

// Select picks the most diverse candidates given what the pool already
// holds and, unless DryRun, adds them to the pool (created on first use)
// before answering. The request is streamed (SelectStream, or
// SelectWithProgress with opts.Progress). Errors: INVALID_ARGUMENT (bad
// pool name or parameters, no stopping condition, malformed candidates),
// FAILED_PRECONDITION (another dimension or model than the pool's),
// NOT_FOUND (a local upload that does not exist).
func (c *Client) Select(ctx context.Context, pool string, candidates Candidates,
	opts SelectOptions) (*pb.SelectResponse, error) {
	if err := candidates.check("select"); err != nil {
		return nil, err
	}
	params, err := opts.params(pool)
	if err != nil {
		return nil, err
	}
	produce, err := c.selectMessages(params, candidates, opts.Columns)
	if err != nil {
		return nil, err
	}
	if opts.Progress == nil {
		return clientStreaming[pb.SelectRequest, pb.SelectResponse](ctx,
			func(ctx context.Context) (pb.Datapool_SelectStreamClient, error) {
				return c.api.SelectStream(ctx)
			}, produce)
	}
	var result *pb.SelectResponse
	err = progressStreaming[pb.SelectRequest, pb.SelectProgress](ctx,
		func(ctx context.Context) (pb.Datapool_SelectWithProgressClient, error) {
			return c.api.SelectWithProgress(ctx)
		}, produce, func(m *pb.SelectProgress) bool {
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

func (c *Client) selectMessages(params *pb.SelectionParams, candidates Candidates,
	columns *pb.CandidateColumns) (producer[pb.SelectRequest], error) {
	first := &pb.SelectRequest{Params: params, InputPaths: candidates.ServerPaths, Columns: columns}
	if candidates.Embeddings != nil {
		rows, err := candidates.Embeddings.check("embeddings", false)
		if err != nil {
			return nil, err
		}
		return func(send func(*pb.SelectRequest) error) error {
			m := first
			return rows.eachBlock(c.chunkBytes, func(b *pb.EmbeddingBlock) error {
				if m == nil {
					m = &pb.SelectRequest{}
				}
				m.Candidates = b
				err := send(m)
				m = nil
				return err
			})
		}, nil
	}
	uploads, err := ListLocalImages(candidates.Uploads)
	if err != nil {
		return nil, err
	}
	return func(send func(*pb.SelectRequest) error) error {
		m := first
		return eachImageGroup(uploads, c.chunkBytes, func(chunks []*pb.ImageChunk) error {
			if m == nil {
				m = &pb.SelectRequest{}
			}
			m.Images = chunks
			err := send(m)
			m = nil
			return err
		})
	}, nil
}
