// Named, shaped parameters in one flat slab (values) with a matching slab of
// gradients. Each parameter knows its full logical shape and which slice of it
// this rank holds, so checkpoints store full shapes and tensor-parallel shards
// are just slices (tp = 1 today: the slice is the whole tensor).
//
// Frozen parameters (fine-tuning: train.freeze*, LoRA's base weights) have values
// but no gradient: the slab holds the trainable tensors first, in registration
// order, padded to the alignment ([0, trainable_capacity()): the gradient slab,
// the optimizer state and ZeRO-1 shards cover only this), then the frozen ones.
// grad(i) of a frozen tensor is an empty View, which the backward reads as
// "skip this weight gradient".
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>
#include "kernels/packed_linear.hpp"
#include "kernels/views.hpp"
#include "src/runtime/error.hpp"

namespace tessera {

struct ParamInfo {
  std::string name;                  // Hugging Face style, e.g. "h.3.attn.c_attn.weight"
  std::vector<int64_t> full_shape;   // logical shape of the whole tensor
  std::vector<int64_t> local_shape;  // shape of this rank's slice
  std::vector<int64_t> local_start;  // where the slice starts in the full tensor
  int shard_dim = -1;                // dimension split across tensor-parallel ranks, -1 = replicated
  int shard_groups = 1;              // >1: dim 0 is that many equal blocks (q|k|v) and the slice takes
                                     // rows [local_start[0], +local_shape[0]/shard_groups) of each block
  bool weight_decay = true;          // false for biases and norm weights
  bool trainable = true;             // false = frozen: no gradient, no optimizer state
  bool tp_partial_grad = false;      // replicated, but each tp rank computes a partial gradient (LoRA)
  bool packed = false;               // held as a PackedMatrix (quantised inference), not in the slab
  size_t offset = 0;                 // first element in the slab
  size_t numel = 0;                  // elements of the local slice
};

// Decides at allocation which parameters are frozen (by name); empty = all trainable.
using FrozenFilter = std::function<bool(const std::string& name)>;

inline int64_t product(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

template <class S>
class ParameterSet {
 public:
  // Registers a replicated parameter (whole tensor on this rank). Returns its index.
  size_t add(const std::string& name, std::vector<int64_t> full_shape, bool weight_decay) {
    ParamInfo info;
    info.name = name;
    info.full_shape = full_shape;
    info.local_shape = full_shape;
    info.local_start.assign(full_shape.size(), 0);
    info.weight_decay = weight_decay;
    return add_slice(std::move(info));
  }

  // Registers a parameter of which this rank holds local_shape starting at local_start.
  size_t add_slice(ParamInfo info) {
    require(!allocated_, "ParameterSet: add after allocate (" + info.name + ")");
    require(index_.count(info.name) == 0, "ParameterSet: duplicate parameter " + info.name);
    info.offset = total_;
    info.numel = info.packed ? 0 : static_cast<size_t>(product(info.local_shape));
    total_ += info.numel;
    index_[info.name] = infos_.size();
    infos_.push_back(std::move(info));
    return infos_.size() - 1;
  }

  // Allocates the value and gradient slabs (zero-filled). The trainable part is
  // padded to a multiple of align elements (ZeRO-1 splits it into dp equal chunks);
  // parameters for which frozen(name) is true go after it and get no gradient.
  void allocate(size_t align = 1, const FrozenFilter& frozen = {}) {
    size_t trainable = 0, fixed = 0;
    for (ParamInfo& info : infos_) {
      info.trainable = !(frozen && frozen(info.name));
      (info.trainable ? trainable : fixed) += info.numel;
    }
    trainable_total_ = trainable;
    trainable_capacity_ = align > 1 ? (trainable + align - 1) / align * align : trainable;
    size_t t = 0, f = trainable_capacity_;
    for (ParamInfo& info : infos_) {
      size_t& next = info.trainable ? t : f;
      info.offset = next;
      next += info.numel;
    }
    capacity_ = trainable_capacity_ + fixed;
    values_ = View1<S>("params", capacity_);
    grads_ = View1<S>("grads", trainable_capacity_);
    allocated_ = true;
  }
  // Value-slab length including padding (≥ numel()).
  size_t capacity() const { return capacity_; }
  // Elements of the trainable tensors, and the gradient-slab length (padded).
  size_t trainable_numel() const { return trainable_total_; }
  size_t trainable_capacity() const { return trainable_capacity_; }
  bool trainable(size_t i) const { return infos_.at(i).trainable; }

  bool allocated() const { return allocated_; }
  size_t numel() const { return total_; }
  const std::vector<ParamInfo>& infos() const { return infos_; }
  const ParamInfo& info(size_t i) const { return infos_.at(i); }
  const ParamInfo& info(const std::string& name) const { return infos_.at(index_of(name)); }
  bool contains(const std::string& name) const { return index_.count(name) != 0; }
  size_t index_of(const std::string& name) const {
    auto it = index_.find(name);
    require(it != index_.end(), "unknown parameter '" + name + "'");
    return it->second;
  }

  View1<S> values() const { return values_; }
  View1<S> grads() const { return grads_; }
  View1<S> value(size_t i) const { return slice(values_, infos_[i].offset, infos_[i].numel); }
  // Empty for a frozen parameter.
  View1<S> grad(size_t i) const {
    if (!infos_[i].trainable) return View1<S>();
    return slice(grads_, infos_[i].offset, infos_[i].numel);
  }
  View1<S> value(const std::string& name) const { return value(index_of(name)); }
  View1<S> grad(const std::string& name) const { return grad(index_of(name)); }

  void zero_grads() const { Kokkos::deep_copy(grads_, S(0)); }

  // Packed weights of parameters registered with info.packed (src/compress/).
  void set_packed(const std::string& name, PackedMatrix m) {
    require(infos_[index_of(name)].packed, "ParameterSet: " + name + " is not a packed parameter");
    packed_[name] = std::move(m);
  }
  const PackedMatrix* packed(const std::string& name) const {
    auto it = packed_.find(name);
    return it == packed_.end() ? nullptr : &it->second;
  }
  size_t packed_bytes() const {
    size_t n = 0;
    for (const auto& [name, m] : packed_) n += m.memory_bytes();
    return n;
  }

 private:
  std::vector<ParamInfo> infos_;
  std::map<std::string, size_t> index_;
  size_t total_ = 0;
  size_t capacity_ = 0;
  size_t trainable_total_ = 0, trainable_capacity_ = 0;
  bool allocated_ = false;
  View1<S> values_;
  View1<S> grads_;
  std::map<std::string, PackedMatrix> packed_;
};

}  // namespace tessera
