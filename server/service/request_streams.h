// The shapes of the service's calls: a request stream read one message at
// a time (StreamReader, or UnaryReader for a unary request, so that unary
// and streaming handlers share their body), and the progress messages of
// the *WithProgress calls (ProgressWriter, WithProgress).
#ifndef DATAPOOL_SERVER_SERVICE_REQUEST_STREAMS_H_
#define DATAPOOL_SERVER_SERVICE_REQUEST_STREAMS_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/status_macros.h"
#include "datapool/v1/datapool.pb.h"

namespace datapool {

// The messages of a request stream, one at a time. Reads `Stream`'s
// messages; UnaryReader below offers a unary request the same way. Not
// thread-safe (the handler's thread).
template <typename Request, typename Stream>
class StreamReader {
 public:
  explicit StreamReader(Stream* stream) : stream_(stream) {}
  // Tells the client the call was admitted before it streams.
  void Begin() { stream_->SendInitialMetadata(); }
  // The next message, or null at the end of the stream.
  const Request* Next() {
    return stream_->Read(&message_) ? &message_ : nullptr;
  }

 private:
  Stream* const stream_;
  Request message_;
};

// A unary request as a stream of one message, so that a unary handler
// shares its streaming sibling's body. Not thread-safe.
template <typename Request>
class UnaryReader {
 public:
  explicit UnaryReader(const Request& request) : request_(request) {}
  void Begin() {}
  const Request* Next() {
    if (done_) return nullptr;
    done_ = true;
    return &request_;
  }

 private:
  const Request& request_;
  bool done_ = false;
};

// Writes throttled Progress messages (a few per second, and every change of
// phase) to a stream; the handler's thread only.
template <typename Message, typename Stream>
class ProgressWriter {
 public:
  explicit ProgressWriter(Stream* stream) : stream_(stream) {}

  // `loss`: training's last step loss (Progress.loss), when there is one.
  void Report(absl::string_view phase, uint64_t done, uint64_t total,
              std::optional<double> loss = std::nullopt) {
    const absl::Time now = absl::Now();
    const bool finished = total > 0 && done == total;
    if (phase == phase_ && !finished && now - last_ < absl::Milliseconds(200)) {
      return;
    }
    phase_ = std::string(phase);
    last_ = now;
    Message message;
    v1::Progress* p = message.mutable_progress();
    p->set_phase(phase_);
    p->set_done(done);
    p->set_total(total);
    if (loss) p->set_loss(*loss);
    stream_->Write(message);
  }

 private:
  Stream* const stream_;
  std::string phase_;
  absl::Time last_ = absl::InfinitePast();
};

// A *WithProgress handler: `body(result, progress)` with its progress
// written to `stream`, then the final message carrying the result.
template <typename Message, typename Stream, typename Body>
absl::Status WithProgress(Stream* stream, const Body& body) {
  ProgressWriter<Message, Stream> writer(stream);
  Message last;
  RETURN_IF_ERROR(
      body(last.mutable_result(),
           [&writer](absl::string_view phase, uint64_t done, uint64_t total) {
             writer.Report(phase, done, total);
           }));
  stream->Write(last);
  return absl::OkStatus();
}

}  // namespace datapool

#endif  // DATAPOOL_SERVER_SERVICE_REQUEST_STREAMS_H_
