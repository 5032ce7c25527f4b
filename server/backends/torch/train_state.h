// What a SimCLR run keeps beside the model it trained, so that the next run
// on that model continues where it stopped: the projection head's weights
// and the optimiser's state (Adam's moments and step counts). Internal to
// this folder (it includes torch headers).
#ifndef DATAPOOL_SERVER_BACKENDS_TORCH_TRAIN_STATE_H_
#define DATAPOOL_SERVER_BACKENDS_TORCH_TRAIN_STATE_H_

#include <torch/optim/optimizer.h>
#include <torch/torch.h>

#include <string>
#include <vector>

namespace datapool {

// `head` (its tensors, in order) and `optimizer`'s state as bytes (a
// libtorch archive). Throws what libtorch throws.
std::string SaveTrainState(const std::vector<torch::Tensor>& head,
                           torch::optim::Optimizer& optimizer);

// Loads `bytes` from SaveTrainState into `head` (copied into its tensors,
// which must have the saved shapes) and `optimizer` (which must be of the
// saved kind, over the parameters the state was saved with: the caller
// keys a state to its model), then sets the optimiser's learning rate to
// `learning_rate`. False when the bytes do not fit (not an archive, other
// shapes or parameters); the optimiser may then be half loaded and must be
// made anew. Never throws.
bool LoadTrainState(const std::string& bytes,
                    const std::vector<torch::Tensor>& head,
                    torch::optim::Optimizer& optimizer,
                    const torch::Device& device, double learning_rate);

}  // namespace datapool

#endif  // DATAPOOL_SERVER_BACKENDS_TORCH_TRAIN_STATE_H_
