// A call, as the client made it, passed on to the replica that owns its
// pool (PeerRouter): unary, client-streaming (the request messages relayed
// as they arrive) and bidirectional (requests relayed on the handler's
// thread, the owner's progress messages on another). The caller's
// deadline, cancellation and token go along (PeerRouter::ForwardContext).
#ifndef DATAPOOL_SERVER_SERVICE_FORWARDING_H_
#define DATAPOOL_SERVER_SERVICE_FORWARDING_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/status_macros.h"
#include "server/service/peer_router.h"

namespace datapool {

// Replays a first message already read (to learn the pool), then the rest
// of `Reader`'s. Not thread-safe. `inner` and `first` (which may point
// into `inner`) outlive it.
template <typename Request, typename Reader>
class PeekedReader {
 public:
  PeekedReader(Reader& inner, const Request* first)
      : inner_(inner), first_(first) {}
  void Begin() {}  // `inner` has begun
  const Request* Next() {
    if (!replayed_) {
      replayed_ = true;
      return first_;
    }
    return first_ == nullptr ? nullptr : inner_.Next();
  }

 private:
  Reader& inner_;
  const Request* const first_;
  bool replayed_ = false;
};

// A unary call to replica `to`.
template <typename Request, typename Response, typename Method>
absl::Status ForwardUnary(const PeerRouter& router,
                          grpc::ServerContext& context, int to,
                          absl::string_view pool, Method method,
                          const Request& request, Response* response) {
  ASSIGN_OR_RETURN(std::unique_ptr<grpc::ClientContext> client,
                   router.ForwardContext(context, to, pool));
  const grpc::Status status =
      (router.Stub(to).*method)(client.get(), request, response);
  return router.Finish(status, *client, context, to, pool);
}

// A client-streaming call to replica `to`: `first`, then the rest of
// `rest`'s messages.
template <typename Request, typename Response, typename Reader, typename Method>
absl::Status ForwardClientStream(const PeerRouter& router,
                                 grpc::ServerContext& context, int to,
                                 absl::string_view pool, Method method,
                                 const Request& first, Reader& rest,
                                 Response* response) {
  ASSIGN_OR_RETURN(std::unique_ptr<grpc::ClientContext> client,
                   router.ForwardContext(context, to, pool));
  std::unique_ptr<grpc::ClientWriter<Request>> writer =
      (router.Stub(to).*method)(client.get(), response);
  bool open = writer->Write(first);
  while (open) {
    const Request* next = rest.Next();
    if (next == nullptr) break;
    open = writer->Write(*next);
  }
  writer->WritesDone();
  return router.Finish(writer->Finish(), *client, context, to, pool);
}

// A bidirectional call to replica `to`: `first` and the rest of `rest`'s
// messages go to the owner; its messages (progress, then the result) come
// back on `out`.
template <typename Request, typename Message, typename Reader,
          typename ServerStream, typename Method>
absl::Status ForwardBidi(const PeerRouter& router, grpc::ServerContext& context,
                         int to, absl::string_view pool, Method method,
                         const Request& first, Reader& rest,
                         ServerStream* out) {
  ASSIGN_OR_RETURN(std::unique_ptr<grpc::ClientContext> client,
                   router.ForwardContext(context, to, pool));
  std::unique_ptr<grpc::ClientReaderWriter<Request, Message>> stream =
      (router.Stub(to).*method)(client.get());
  // The owner's messages flow back while the requests still go out.
  std::thread relay([&stream, &client, out] {
    Message message;
    bool delivered = true;
    while (stream->Read(&message)) {
      if (delivered && !out->Write(message)) {
        delivered = false;  // the caller is gone: so is the owner's call
        client->TryCancel();
      }
    }
  });
  bool open = stream->Write(first);
  while (open) {
    const Request* next = rest.Next();
    if (next == nullptr) break;
    open = stream->Write(*next);
  }
  stream->WritesDone();
  relay.join();
  return router.Finish(stream->Finish(), *client, context, to, pool);
}

}  // namespace datapool

#endif  // DATAPOOL_SERVER_SERVICE_FORWARDING_H_
