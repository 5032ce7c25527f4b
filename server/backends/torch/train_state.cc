#include "server/backends/torch/train_state.h"

#include <exception>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace datapool {
namespace {

std::string HeadKey(size_t i) { return absl::StrCat("head_", i); }

}  // namespace

std::string SaveTrainState(const std::vector<torch::Tensor>& head,
                           torch::optim::Optimizer& optimizer) {
  torch::serialize::OutputArchive archive;
  archive.write("head_count", c10::IValue(static_cast<int64_t>(head.size())));
  for (size_t i = 0; i < head.size(); ++i) {
    archive.write(HeadKey(i), head[i].detach().to(torch::kCPU));
  }
  torch::serialize::OutputArchive state;
  optimizer.save(state);
  archive.write("optimizer", state);
  std::ostringstream out;
  archive.save_to(out);
  return std::move(out).str();
}

bool LoadTrainState(const std::string& bytes,
                    const std::vector<torch::Tensor>& head,
                    torch::optim::Optimizer& optimizer,
                    const torch::Device& device, double learning_rate) {
  try {
    torch::serialize::InputArchive archive;
    std::istringstream in(bytes);
    archive.load_from(in, device);
    c10::IValue count;
    archive.read("head_count", count);
    if (!count.isInt() || count.toInt() != static_cast<int64_t>(head.size())) {
      return false;
    }
    std::vector<torch::Tensor> saved(head.size());
    for (size_t i = 0; i < head.size(); ++i) {
      archive.read(HeadKey(i), saved[i]);
      if (!saved[i].defined() || saved[i].sizes() != head[i].sizes() ||
          saved[i].scalar_type() != head[i].scalar_type()) {
        return false;
      }
    }
    torch::serialize::InputArchive state;
    archive.read("optimizer", state);
    optimizer.load(state);
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < head.size(); ++i) head[i].copy_(saved[i]);
    for (torch::optim::OptimizerParamGroup& group : optimizer.param_groups()) {
      group.options().set_lr(learning_rate);
    }
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace datapool
