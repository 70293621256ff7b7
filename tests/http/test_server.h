// Runs an HttpServer on 127.0.0.1:<free port> with its io_context on a background thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <thread>

#include "agent/http/server.h"

namespace pprofd::http::testing {

class TestServer {
 public:
  explicit TestServer(RequestHandler handler, ServerOptions options = {}) {
    auto server = HttpServer::Create(io_context_, "127.0.0.1:0", std::move(handler), options);
    if (server.ok()) {
      server_ = std::move(*server);
      thread_ = std::thread([this] { io_context_.run(); });
    } else {
      error_ = server.status().message();
    }
  }
  ~TestServer() {
    if (server_) server_->CloseAllSessions();
    io_context_.stop();
    if (thread_.joinable()) thread_.join();
  }

  bool ok() const { return server_ != nullptr; }
  const std::string& error() const { return error_; }
  unsigned short port() const { return server_->local_endpoint().port(); }
  HttpServer& server() { return *server_; }

  // Polls `condition` until it holds or `timeout` passes.
  static bool WaitFor(const std::function<bool()>& condition,
                      std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (condition()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return condition();
  }

 private:
  boost::asio::io_context io_context_;
  std::unique_ptr<HttpServer> server_;
  std::string error_;
  std::thread thread_;
};

}  // namespace pprofd::http::testing
