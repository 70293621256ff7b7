#include "agent/http/tls.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/buffer.hpp>
#include <boost/system/error_code.hpp>
#include <string_view>

#include "agent/http/flag_file.h"
#include "base/log.h"

namespace pprofd::http {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;

namespace {

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;

BioPtr MemoryBio(const std::string& bytes) {
  return BioPtr(BIO_new_mem_buf(bytes.data(), static_cast<int>(bytes.size())));
}

// OpenSSL's default asks for a passphrase on the terminal: a daemon must fail instead.
int NoPassphrase(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*userdata*/) { return -1; }

// The reason of OpenSSL's latest error, and clears its error queue.
std::string OpenSslReason() {
  const unsigned long code = ERR_peek_last_error();
  ERR_clear_error();
  const char* reason = code == 0 ? nullptr : ERR_reason_error_string(code);
  return reason == nullptr ? "unknown OpenSSL error" : reason;
}

Status LoadCertificate(ssl::context& context, const std::string& path) {
  StatusOr<std::string> pem = ReadFlagFile("--tls-cert", path);
  if (!pem.ok()) return pem.status();
  boost::system::error_code ec;
  context.use_certificate_chain(asio::buffer(*pem), ec);
  if (ec) {
    ERR_clear_error();
    return Status::Error(StrCat("--tls-cert ", path, ": not a PEM certificate chain (",
                                ec.message(), "); pass the server certificate, leaf first"));
  }
  X509* leaf = SSL_CTX_get0_certificate(context.native_handle());
  if (leaf != nullptr && X509_cmp_current_time(X509_get0_notAfter(leaf)) < 0) {
    LogWarning(StrCat("--tls-cert ", path, " has expired: clients will refuse it until renewed"));
  }
  return Status::Ok();
}

Status LoadKey(ssl::context& context, const std::string& path, const std::string& cert_path) {
  StatusOr<std::string> pem = ReadFlagFile("--tls-key", path);
  if (!pem.ok()) return pem.status();
  if (pem->find("ENCRYPTED") != std::string::npos) {
    return Status::Error(StrCat("--tls-key ", path,
                                ": the key is encrypted and pprofd cannot ask for its passphrase; "
                                "decrypt it with openssl pkey -in KEY -out KEY.plain"));
  }
  // Parsed alone first, so a bad key is told apart from a key of another certificate.
  BioPtr bio = MemoryBio(*pem);
  PkeyPtr key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr) : nullptr);
  if (!key) {
    return Status::Error(
        StrCat("--tls-key ", path, ": not a PEM private key (", OpenSslReason(), ")"));
  }
  if (SSL_CTX_use_PrivateKey(context.native_handle(), key.get()) != 1 ||
      SSL_CTX_check_private_key(context.native_handle()) != 1) {
    ERR_clear_error();
    return Status::Error(StrCat("--tls-cert ", cert_path, " and --tls-key ", path,
                                " do not match: pass the key the certificate was made for"));
  }
  return Status::Ok();
}

Status LoadClientCa(ssl::context& context, const std::string& path) {
  StatusOr<std::string> pem = ReadFlagFile("--tls-client-ca", path);
  if (!pem.ok()) return pem.status();
  BioPtr bio = MemoryBio(*pem);
  X509_STORE* store = SSL_CTX_get_cert_store(context.native_handle());
  int count = 0;
  while (bio) {
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr));
    if (!cert) break;
    // Trusted for verification, and named in the handshake so clients pick the right
    // certificate.
    if (X509_STORE_add_cert(store, cert.get()) != 1 ||
        SSL_CTX_add_client_CA(context.native_handle(), cert.get()) != 1) {
      return Status::Error(StrCat("--tls-client-ca ", path, ": cannot use certificate ", count + 1,
                                  " (", OpenSslReason(), ")"));
    }
    ++count;
  }
  ERR_clear_error();  // The end of the file reads as "no start line".
  if (count == 0) {
    return Status::Error(StrCat("--tls-client-ca ", path,
                                ": no PEM certificate in it; pass the CA that signs client "
                                "certificates"));
  }
  context.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  return Status::Ok();
}

}  // namespace

StatusOr<std::shared_ptr<ssl::context>> MakeTlsContext(const TlsFiles& files) {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                       ssl::context::single_dh_use);
  SSL_CTX_set_default_passwd_cb(context->native_handle(), NoPassphrase);
  // With client verification on, OpenSSL refuses to resume sessions that lack an ID context.
  static constexpr std::string_view kSessionContext = "pprofd";
  SSL_CTX_set_session_id_context(context->native_handle(),
                                 reinterpret_cast<const unsigned char*>(kSessionContext.data()),
                                 static_cast<unsigned>(kSessionContext.size()));
  if (Status status = LoadCertificate(*context, files.cert); !status.ok()) return status;
  if (Status status = LoadKey(*context, files.key, files.cert); !status.ok()) return status;
  if (!files.client_ca.empty()) {
    if (Status status = LoadClientCa(*context, files.client_ca); !status.ok()) return status;
  }
  return context;
}

}  // namespace pprofd::http
