// The flags of datapool-server: names, help, defaults, and their parsing
// into DatapoolServer::Options. The defaults come from a default-made
// DatapoolServer::Options (the one owner of the server's defaults), except
// the few where the binary deliberately differs (local folders, history
// and report retention, metrics on loopback; see DefaultServerFlags).
#ifndef DATAPOOL_SERVER_APP_SERVER_FLAGS_H_
#define DATAPOOL_SERVER_APP_SERVER_FLAGS_H_

#include <string>

#include "absl/status/statusor.h"
#include "common/args.h"
#include "server/app/datapool_server.h"

namespace datapool {

// Every flag's value as given (text); ServerOptions checks them.
struct ServerFlags {
  std::string shared_dir;
  std::string input_dir;
  std::string listen;
  std::string max_message_mb;
  std::string max_candidates;
  std::string max_filename_bytes;
  std::string max_request_mb;
  std::string keep_versions;
  std::string keep_reports;
  std::string max_history_mb;
  std::string max_pools;  // empty: what the descriptor limit allows
  std::string shutdown_grace_s;
  std::string model;
  std::string model_library;
  std::string input_size;
  std::string device;
  std::string batch_size;
  std::string max_loaded_models;
  std::string threads;
  std::string decode_threads;
  std::string jpeg_decoder;
  std::string max_image_mb;
  bool prune = false;
  bool no_prune = false;
  std::string shard_select_min_candidates;
  bool no_report_thumbnails = false;
  std::string tls_cert;
  std::string tls_key;
  std::string tls_client_ca;
  std::string auth_token_file;
  std::string metrics_listen;
  std::string http_listen;
  std::string max_running_calls;
  std::string max_queued_calls;
  std::string log_level;
  // Several replicas over one shared folder (ClusterConfig::Parse).
  ClusterFlags cluster;
  std::string peer_tls_ca;
  std::string peer_tls_server_name;
  std::string peer_down_after_s;
  bool help = false;
};

// The binary's defaults.
ServerFlags DefaultServerFlags();

// Binds every flag of `flags` (with its help) to `parser`. Both borrowed.
void RegisterServerFlags(ServerFlags* flags, ArgParser* parser);

// The flag's integer value in [lo, hi]; InvalidArgument naming the flag
// and the range otherwise.
absl::StatusOr<int> IntFlag(const std::string& name, const std::string& value,
                            int lo, int hi);

// The options the flags ask for (`log` left null). `default_max_pools`
// stands in for an empty --max-pools; `host_name` (a pod's HOSTNAME) gives
// the replica's ordinal when --replica-index is not given. InvalidArgument
// naming the first bad flag.
absl::StatusOr<DatapoolServer::Options> ServerOptions(
    const ServerFlags& flags, int default_max_pools,
    absl::string_view host_name = "");

// --log-level as the lowest LogLevel printed (kError + 1 for "off").
absl::StatusOr<int> LogThreshold(const std::string& level);

}  // namespace datapool

#endif  // DATAPOOL_SERVER_APP_SERVER_FLAGS_H_
