#include "agent/http/server.h"

#include <sys/socket.h>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/system/error_code.hpp>

#include "agent/http/listen_address.h"
#include "agent/http/session.h"
#include "base/log.h"

namespace pprofd::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
using boost::asio::ip::tcp;
using boost::system::error_code;

namespace {

// What to do about a failed bind/listen, appended to the error.
std::string_view BindAdvice(const error_code& ec) {
  if (ec == asio::error::address_in_use) return "stop the other process or pass --listen HOST:PORT";
  if (ec == asio::error::access_denied) {
    return "use a port above 1023 or grant CAP_NET_BIND_SERVICE";
  }
  if (ec == boost::system::errc::address_not_available) {
    return "use an address of this host, e.g. 127.0.0.1:6060 or :6060";
  }
  return "pass another --listen HOST:PORT";
}

// After accept fails for lack of resources (EMFILE, ENOBUFS), wait before retrying rather than
// spin.
constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(100);

// Answers a connection over --max-connections with one line and closes it, without a session:
// a non-blocking send (the socket buffer of a fresh connection takes it whole; a client that
// does not read loses the answer, not the server a descriptor), what the client already sent is
// read away so that the close does not turn into a reset that hides the answer.
void RefuseConnection(tcp::socket& socket, int max_connections) {
  const std::string body =
      StrCat("pprofd: too many open connections (--max-connections=", max_connections,
             "); close idle connections or raise --max-connections\n");
  const std::string response = StrCat(
      "HTTP/1.1 503 Service Unavailable\r\nServer: pprofd\r\n"
      "Content-Type: text/plain; charset=utf-8\r\nX-Go-Pprof: 1\r\nRetry-After: 1\r\n"
      "Connection: close\r\nContent-Length: ",
      body.size(), "\r\n\r\n", body);
  const int fd = socket.native_handle();
  (void)::send(fd, response.data(), response.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  char discard[4096];
  for (int i = 0; i < 16 && ::recv(fd, discard, sizeof(discard), MSG_DONTWAIT) > 0; ++i) {
  }
  error_code ec;
  socket.shutdown(tcp::socket::shutdown_send, ec);
  socket.close(ec);
}

}  // namespace

// Owns the listening socket; lives on its own strand, kept alive by its pending operations.
class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(asio::io_context& io_context, std::shared_ptr<ServerState> state)
      : io_context_(io_context),
        strand_(asio::make_strand(io_context)),
        acceptor_(strand_),
        retry_timer_(strand_),
        state_(std::move(state)) {}

  Status Bind(const tcp::endpoint& endpoint) {
    error_code ec;
    const std::string where = FormatEndpoint(endpoint);
    auto fail = [&](const error_code& e) {
      return Status::Error(StrCat("listen ", where, ": ", e.message(), "; ", BindAdvice(e)));
    };
    if (acceptor_.open(endpoint.protocol(), ec); ec) return fail(ec);
    // Lets a restarted agent bind while old connections sit in TIME_WAIT; Linux still refuses a
    // port another socket is listening on.
    if (acceptor_.set_option(asio::socket_base::reuse_address(true), ec); ec) return fail(ec);
    if (acceptor_.bind(endpoint, ec); ec) return fail(ec);
    if (acceptor_.listen(asio::socket_base::max_listen_connections, ec); ec) return fail(ec);
    local_endpoint_ = acceptor_.local_endpoint(ec);
    if (ec) return fail(ec);
    return Status::Ok();
  }

  const tcp::endpoint& local_endpoint() const { return local_endpoint_; }

  void Start() {
    asio::dispatch(strand_, beast::bind_front_handler(&Listener::DoAccept, shared_from_this()));
  }

  void Stop() {
    asio::post(strand_, [self = shared_from_this()] {
      error_code ec;
      self->acceptor_.close(ec);
      self->retry_timer_.cancel();
    });
  }

 private:
  void DoAccept() {
    if (!acceptor_.is_open()) return;
    acceptor_.async_accept(asio::make_strand(io_context_),
                           beast::bind_front_handler(&Listener::OnAccept, shared_from_this()));
  }

  void OnAccept(error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) {
      LogWarning(StrCat("accept on ", FormatEndpoint(local_endpoint_), ": ", ec.message()));
      retry_timer_.expires_after(kAcceptRetryDelay);
      retry_timer_.async_wait([self = shared_from_this()](error_code wait_ec) {
        if (!wait_ec) self->DoAccept();
      });
      return;
    }
    const int max_connections = state_->options.max_connections;
    if (max_connections > 0 && state_->active_sessions.load() >= max_connections) {
      if (state_->refused_connections.fetch_add(1) == 0) {
        LogWarning(StrCat("refusing connections beyond --max-connections=", max_connections,
                          " (counted in pprofd_http_connections_refused_total)"));
      }
      RefuseConnection(socket, max_connections);
      return DoAccept();
    }
    std::shared_ptr<Session> session = MakeSession(std::move(socket), state_);
    {
      std::lock_guard lock(state_->mutex);
      std::erase_if(state_->sessions, [](const std::weak_ptr<Session>& s) { return s.expired(); });
      state_->sessions.push_back(session);
    }
    // Stop() may have run between accept and here; the session then closes itself.
    if (state_->stopping.load()) session->Shutdown(/*abort=*/false);
    session->Start();
    DoAccept();
  }

  asio::io_context& io_context_;
  asio::strand<asio::io_context::executor_type> strand_;
  tcp::acceptor acceptor_;
  asio::steady_timer retry_timer_;
  const std::shared_ptr<ServerState> state_;
  tcp::endpoint local_endpoint_;
};

StatusOr<std::unique_ptr<HttpServer>> HttpServer::Create(asio::io_context& io_context,
                                                         std::string_view listen,
                                                         RequestHandler handler,
                                                         ServerOptions options) {
  StatusOr<tcp::endpoint> endpoint = ParseListenAddress(listen);
  if (!endpoint.ok()) return endpoint.status();
  return Create(io_context, *endpoint, std::move(handler), options);
}

StatusOr<std::unique_ptr<HttpServer>> HttpServer::Create(asio::io_context& io_context,
                                                         const tcp::endpoint& endpoint,
                                                         RequestHandler handler,
                                                         ServerOptions options) {
  auto state = std::make_shared<ServerState>(std::move(handler), options);
  auto listener = std::make_shared<Listener>(io_context, state);
  if (Status status = listener->Bind(endpoint); !status.ok()) return status;
  listener->Start();
  const tcp::endpoint bound = listener->local_endpoint();
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(listener), bound, std::move(state)));
}

HttpServer::HttpServer(std::shared_ptr<Listener> listener, tcp::endpoint local_endpoint,
                       std::shared_ptr<ServerState> state)
    : listener_(std::move(listener)), local_endpoint_(local_endpoint), state_(std::move(state)) {}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Stop() {
  state_->stopping.store(true);
  listener_->Stop();
  std::lock_guard lock(state_->mutex);
  for (const std::weak_ptr<Session>& weak : state_->sessions) {
    if (std::shared_ptr<Session> session = weak.lock()) session->Shutdown(/*abort=*/false);
  }
}

void HttpServer::CloseAllSessions() {
  std::lock_guard lock(state_->mutex);
  for (const std::weak_ptr<Session>& weak : state_->sessions) {
    if (std::shared_ptr<Session> session = weak.lock()) session->Shutdown(/*abort=*/true);
  }
}

HttpServer::LimitCounts HttpServer::limit_counts() const {
  return {state_->refused_connections.load(), state_->read_timeouts.load(),
          state_->idle_timeouts.load()};
}

int HttpServer::active_sessions() const {
  return state_->active_sessions.load(std::memory_order_relaxed);
}

}  // namespace pprofd::http
