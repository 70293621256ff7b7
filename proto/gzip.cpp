// gzip via zlib. The zlib stream counters are 32-bit, so input is fed in bounded chunks.
#include <zlib.h>

#include <algorithm>
#include <string>
#include <string_view>

#include "proto/profile_builder.h"

namespace pprofd::proto {
namespace {

// windowBits 15 plus 16 selects the gzip wrapper instead of the zlib one.
constexpr int kGzipWindowBits = 15 + 16;
constexpr size_t kChunk = 1 << 20;

// Owns a deflate stream so every return path ends it.
class Deflater {
 public:
  Deflater() {
    ok_ =
        deflateInit2(&z_, Z_BEST_SPEED, Z_DEFLATED, kGzipWindowBits, 8, Z_DEFAULT_STRATEGY) == Z_OK;
  }
  ~Deflater() {
    if (ok_) deflateEnd(&z_);
  }
  Deflater(const Deflater&) = delete;
  Deflater& operator=(const Deflater&) = delete;
  bool ok() const { return ok_; }
  z_stream* get() { return &z_; }

 private:
  z_stream z_{};
  bool ok_ = false;
};

class Inflater {
 public:
  Inflater() { ok_ = inflateInit2(&z_, kGzipWindowBits) == Z_OK; }
  ~Inflater() {
    if (ok_) inflateEnd(&z_);
  }
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;
  bool ok() const { return ok_; }
  z_stream* get() { return &z_; }

 private:
  z_stream z_{};
  bool ok_ = false;
};

}  // namespace

std::string Gzip(std::string_view data) {
  Deflater deflater;
  if (!deflater.ok()) return {};
  z_stream* z = deflater.get();
  std::string out;
  out.resize(deflateBound(z, static_cast<uLong>(std::min(data.size(), kChunk))) + 64);
  size_t produced = 0;
  size_t consumed = 0;
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    if (z->avail_in == 0 && consumed < data.size()) {
      size_t n = std::min(data.size() - consumed, kChunk);
      z->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data() + consumed));
      z->avail_in = static_cast<uInt>(n);
      consumed += n;
    }
    if (produced == out.size()) out.resize(out.size() * 2);
    size_t room = std::min(out.size() - produced, kChunk);
    z->next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    z->avail_out = static_cast<uInt>(room);
    int flush = consumed == data.size() ? Z_FINISH : Z_NO_FLUSH;
    rc = deflate(z, flush);
    produced += room - z->avail_out;
    if (rc == Z_STREAM_ERROR) return {};
  }
  out.resize(produced);
  return out;
}

bool Gunzip(std::string_view data, std::string* out) {
  out->clear();
  Inflater inflater;
  if (!inflater.ok()) return false;
  z_stream* z = inflater.get();
  size_t consumed = 0;
  size_t produced = 0;
  out->resize(std::max<size_t>(data.size() * 4, 4096));
  while (true) {
    if (z->avail_in == 0 && consumed < data.size()) {
      size_t n = std::min(data.size() - consumed, kChunk);
      z->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data() + consumed));
      z->avail_in = static_cast<uInt>(n);
      consumed += n;
    }
    if (produced == out->size()) out->resize(out->size() * 2);
    size_t room = std::min(out->size() - produced, kChunk);
    z->next_out = reinterpret_cast<Bytef*>(out->data() + produced);
    z->avail_out = static_cast<uInt>(room);
    int rc = inflate(z, Z_NO_FLUSH);
    produced += room - z->avail_out;
    if (rc == Z_STREAM_END) break;
    // Z_BUF_ERROR with output room left means zlib wants input we do not have: truncated.
    if (rc != Z_OK) {
      out->resize(produced);
      return false;
    }
  }
  out->resize(produced);
  // Bytes after the gzip member would mean the input was not what we think it is.
  return z->avail_in == 0 && consumed == data.size();
}

}  // namespace pprofd::proto
