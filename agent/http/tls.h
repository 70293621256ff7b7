// HTTPS: the server's certificate and key, and optionally a CA whose certificates clients must
// present (mutual TLS). Hand the context to ServerOptions::tls.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>

#include "base/status.h"

namespace pprofd::http {

struct TlsFiles {
  std::string cert;       // --tls-cert: PEM certificate chain, leaf first
  std::string key;        // --tls-key: PEM private key, unencrypted
  std::string client_ca;  // --tls-client-ca: PEM CA certificates; empty: no client certificates
};

// Loads the files into a server context: TLS 1.2 or later; with a client CA, a client without a
// certificate it signed fails the handshake. Errors are one line naming the flag and the file,
// e.g. "--tls-key /x: No such file or directory" or "--tls-cert A and --tls-key B do not match".
StatusOr<std::shared_ptr<boost::asio::ssl::context>> MakeTlsContext(const TlsFiles& files);

}  // namespace pprofd::http
