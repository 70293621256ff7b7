#include "agent/kinds/cpu/cpu_sample_source.h"

namespace pprofd::kinds::cpu {
namespace {

class BpfSource : public CpuSampleSource {
 public:
  explicit BpfSource(std::unique_ptr<sampling::CpuSampler> sampler)
      : sampler_(std::move(sampler)) {}
  Status Start(int hz) override { return sampler_->Start(hz); }
  void Stop() override { sampler_->Stop(); }
  bool running() const override { return sampler_->running(); }
  int hz() const override { return sampler_->hz(); }
  int cpu_count() const override { return sampler_->cpu_count(); }
  void Drain(const std::function<void(const sampling::RawCpuSample&)>& on_sample) override {
    sampler_->Drain(on_sample);
  }
  uint64_t LostSamples() const override { return sampler_->LostSamples(); }

 private:
  std::unique_ptr<sampling::CpuSampler> sampler_;
};

}  // namespace

std::unique_ptr<CpuSampleSource> BpfCpuSource(std::unique_ptr<sampling::CpuSampler> sampler) {
  return std::make_unique<BpfSource>(std::move(sampler));
}

}  // namespace pprofd::kinds::cpu
