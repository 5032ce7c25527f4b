package datapool

import (
	"context"
	"io"

	pb "datapool/client/go/datapoolv1"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ProgressFunc is called with each progress message of a long call: the
// phase ("receiving", "embedding", "selecting", "committing"; "training"
// for Train), what is done and of what total (0: unknown). It runs on the
// calling goroutine. To stop the call, cancel its context: a cancelled
// selection commits nothing.
type ProgressFunc func(phase string, done, total uint64)

// errStreamEnded stops a request producer when the server has ended the
// call (Send returned io.EOF); the call's status comes from the receive.
var errStreamEnded = status.Error(codes.Canceled, "the server ended the call")

// A producer calls send with each request message in order and returns
// the first error, either send's or its own (a local file that cannot be
// read, say).
type producer[Req any] func(send func(*Req) error) error

type clientStream[Req, Resp any] interface {
	Send(*Req) error
	CloseAndRecv() (*Resp, error)
}

// clientStreaming makes a client-streaming call. When the producer fails
// on our side, the call is cancelled before the stream is closed, so the
// server never sees a complete request and commits nothing.
func clientStreaming[Req, Resp any, S clientStream[Req, Resp]](ctx context.Context,
	open func(context.Context) (S, error), produce producer[Req]) (*Resp, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s, err := open(ctx)
	if err != nil {
		return nil, err
	}
	err = produce(func(m *Req) error {
		if err := s.Send(m); err != nil {
			if err == io.EOF {
				return errStreamEnded
			}
			return err
		}
		return nil
	})
	if err != nil && err != errStreamEnded {
		cancel()
		return nil, err
	}
	return s.CloseAndRecv()
}

type bidiStream[Req, Msg any] interface {
	Send(*Req) error
	CloseSend() error
	Recv() (*Msg, error)
}

// progressStreaming makes a call that streams requests one way and
// progress messages, then a result, the other: the requests go out from
// another goroutine while handle sees each message received here. handle
// returns true for the result message.
func progressStreaming[Req, Msg any, S bidiStream[Req, Msg]](ctx context.Context,
	open func(context.Context) (S, error), produce producer[Req],
	handle func(*Msg) bool) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s, err := open(ctx)
	if err != nil {
		return err
	}
	sent := make(chan error, 1)
	go func() {
		err := produce(func(m *Req) error {
			if err := s.Send(m); err != nil {
				return errStreamEnded // the receive has the status
			}
			return nil
		})
		if err != nil && err != errStreamEnded {
			cancel() // before the stream ends: nothing is committed
			sent <- err
			return
		}
		if err == nil {
			_ = s.CloseSend()
		}
		sent <- nil
	}()
	gotResult := false
	var recvErr error
	for {
		m, err := s.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			recvErr = err
			break
		}
		if handle(m) {
			gotResult = true
		}
	}
	cancel() // unblocks a Send still waiting
	if localErr := <-sent; localErr != nil {
		return localErr
	}
	if recvErr != nil {
		return recvErr
	}
	if !gotResult {
		return status.Error(codes.Internal, "the server ended the call without a result")
	}
	return nil
}

func reportProgress(progress ProgressFunc, p *pb.Progress) {
	if progress != nil && p != nil {
		progress(p.GetPhase(), p.GetDone(), p.GetTotal())
	}
}
