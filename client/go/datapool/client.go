// Package datapool is the Go client of the Datapool service: the gRPC API
// generated from proto/datapool/v1/datapool.proto (package
// datapool/client/go/datapoolv1) behind a thin layer that adds what
// generation cannot: dialing with TLS and a bearer token, streaming
// embeddings and local image files in chunks, progress callbacks, and
// defaults for the common calls (Select, Search, Embed, pools, history,
// reports). Responses are the generated messages.
//
// Every error a method returns carries a gRPC status code
// (status.Code(err)): the server's, or INVALID_ARGUMENT for arguments the
// client refuses before calling, NOT_FOUND for a local file or folder that
// does not exist.
//
//	c, err := datapool.Dial("localhost:50051", datapool.Options{
//		Token: token, TLS: &datapool.TLS{CAFile: "ca.pem"}})
//	...
//	defer c.Close()
//	r, err := c.Select(ctx, "demo",
//		datapool.Candidates{Embeddings: &datapool.Embeddings{Filenames: names, Rows: rows}},
//		datapool.SelectOptions{Count: 50})
//
// Calls the wrapper does not cover (Train, SetPoolModel, MergePools, ...)
// are made on API(), the generated stub, over the same connection: the
// token and the timeout apply to them too.
package datapool

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"math"
	"os"
	"time"

	pb "datapool/client/go/datapoolv1"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// DefaultTarget is the address of a server started with its defaults.
const DefaultTarget = "127.0.0.1:50051"

// DefaultChunkBytes is about how large the messages of streamed requests
// (embeddings, uploaded images) are.
const DefaultChunkBytes = 1 << 20

// DefaultTimeout is each call's deadline when Options.Timeout is 0 and
// the call's context has none.
const DefaultTimeout = 600 * time.Second

// TLS says how to reach a server that serves TLS.
type TLS struct {
	// CAFile is the PEM file of the CA that signed the server's
	// certificate; empty: the system's CAs.
	CAFile string
	// CertFile and KeyFile are the client's PEM certificate chain and
	// private key, for a server that requires mutual TLS (both or neither).
	CertFile, KeyFile string
	// ServerName is the name to verify the server's certificate against
	// when the target does not carry it (e.g. an IP address with a
	// certificate for localhost); empty: the target's host.
	ServerName string
}

// Options of Dial. The zero value is a plaintext connection without a
// token.
type Options struct {
	// Token is sent as `authorization: Bearer <Token>` on every call
	// (servers started with --auth-token-file); empty: none.
	Token string
	// TLS: nil for plaintext.
	TLS *TLS
	// Timeout is the deadline of each call whose context has none:
	// 0 means DefaultTimeout, a negative value no deadline.
	Timeout time.Duration
	// ChunkBytes: the size of the messages of streamed requests; 0 means
	// DefaultChunkBytes.
	ChunkBytes int
	// DialOptions are added after the client's own.
	DialOptions []grpc.DialOption
}

// Client is a connection to a Datapool server. It is safe for concurrent
// use by several goroutines. Close it when done.
type Client struct {
	conn       *grpc.ClientConn
	api        pb.DatapoolClient
	health     healthpb.HealthClient
	chunkBytes int
}

// Dial connects to target ("HOST:PORT"). The connection is made in the
// background: a server that cannot be reached shows as UNAVAILABLE on the
// first call, not here. Errors: INVALID_ARGUMENT for TLS files that cannot
// be read or used.
func Dial(target string, opts Options) (*Client, error) {
	var dial []grpc.DialOption
	if opts.TLS == nil {
		dial = append(dial, grpc.WithInsecure())
	} else {
		creds, err := transportCredentials(opts.TLS)
		if err != nil {
			return nil, err
		}
		dial = append(dial, grpc.WithTransportCredentials(creds))
	}
	if opts.Token != "" {
		dial = append(dial, grpc.WithPerRPCCredentials(bearerToken(opts.Token)))
	}
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	dial = append(dial,
		// Responses (embeddings of many images, long pick lists) may
		// exceed gRPC's default 4 MiB receive limit.
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(math.MaxInt32),
			grpc.MaxCallSendMsgSize(math.MaxInt32)),
		grpc.WithChainUnaryInterceptor(unaryTimeout(timeout)),
		grpc.WithChainStreamInterceptor(streamTimeout(timeout)))
	dial = append(dial, opts.DialOptions...)
	conn, err := grpc.Dial(target, dial...)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "dial %s: %v", target, err)
	}
	chunk := opts.ChunkBytes
	if chunk <= 0 {
		chunk = DefaultChunkBytes
	}
	if chunk < 1024 {
		chunk = 1024
	}
	return &Client{conn: conn, api: pb.NewDatapoolClient(conn),
		health: healthpb.NewHealthClient(conn), chunkBytes: chunk}, nil
}

// Close closes the connection; calls in flight are cancelled.
func (c *Client) Close() error { return c.conn.Close() }

// API is the generated stub on the client's connection, for the calls the
// wrapper does not cover.
func (c *Client) API() pb.DatapoolClient { return c.api }

// Conn is the client's connection.
func (c *Client) Conn() *grpc.ClientConn { return c.conn }

func transportCredentials(t *TLS) (credentials.TransportCredentials, error) {
	config := &tls.Config{ServerName: t.ServerName, MinVersion: tls.VersionTLS12}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "cannot read the TLS CA: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, status.Errorf(codes.InvalidArgument,
				"the TLS CA %s holds no PEM certificate", t.CAFile)
		}
		config.RootCAs = pool
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		return nil, status.Error(codes.InvalidArgument,
			"TLS: CertFile and KeyFile go together (mutual TLS)")
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument,
				"cannot load the TLS client certificate: %v", err)
		}
		config.Certificates = []tls.Certificate{cert}
	}
	return credentials.NewTLS(config), nil
}

// bearerToken puts the token on every call. It is sent over plaintext
// connections too, as the other Datapool clients do (a server on
// loopback); use TLS anywhere else.
type bearerToken string

func (t bearerToken) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(t)}, nil
}

func (t bearerToken) RequireTransportSecurity() bool { return false }

func withTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d < 0 {
		return ctx, func() {}
	}
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, d)
}

func unaryTimeout(d time.Duration) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply interface{},
		cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		ctx, cancel := withTimeout(ctx, d)
		defer cancel()
		return invoker(ctx, method, req, reply, cc, opts...)
	}
}

func streamTimeout(d time.Duration) grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn,
		method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		ctx, cancel := withTimeout(ctx, d)
		s, err := streamer(ctx, desc, cc, method, opts...)
		if err != nil {
			cancel()
			return nil, err
		}
		return &timedStream{ClientStream: s, cancel: cancel,
			serverStreams: desc.ServerStreams}, nil
	}
}

// timedStream releases the deadline's timer when the call is over: when
// RecvMsg fails (io.EOF included), or has the one response of a call
// whose server does not stream.
type timedStream struct {
	grpc.ClientStream
	cancel        context.CancelFunc
	serverStreams bool
}

func (s *timedStream) RecvMsg(m interface{}) error {
	err := s.ClientStream.RecvMsg(m)
	if err != nil || !s.serverStreams {
		s.cancel()
	}
	return err
}

// Health is the server's overall health (grpc.health.v1): "SERVING" when
// it serves, else "NOT_SERVING", ... It needs no token.
func (c *Client) Health(ctx context.Context) (string, error) {
	r, err := c.health.Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		return "", err
	}
	return r.GetStatus().String(), nil
}
