# Sourced, not run: puts the OpenSSL trust directory of the ASP.NET Core development certificate
# (~/.aspnet/dev-certs/trust, made by `dotnet dev-certs https --trust`) on SSL_CERT_DIR, after the
# system's certificates. OpenSSL, and through it .NET, `aspire run`'s trust check and the AppHost,
# read trust from the directories listed there; Linux has no one user trust store that all read.
# eng/setup.sh installs this file as /etc/profile.d/zmqaspire-dev-certs.sh (new login shells);
# eng/run.sh and eng/test.sh source it. Idempotent: a second source changes nothing.
_zmqaspire_trust="${DOTNET_DEV_CERTS_OPENSSL_CERTIFICATE_DIRECTORY:-$HOME/.aspnet/dev-certs/trust}"
case ":${SSL_CERT_DIR:-}:" in
  *":$_zmqaspire_trust:"*) ;;
  *) SSL_CERT_DIR="${SSL_CERT_DIR:-/etc/ssl/certs}:$_zmqaspire_trust"; export SSL_CERT_DIR ;;
esac
unset _zmqaspire_trust
