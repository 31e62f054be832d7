# Offline stand-in for mcr.microsoft.com/azurelinux/base/core:3.0, the base of Aspire's
# container tunnel proxy image (how containers reach host endpoints such as the dashboard's
# OTLP receiver). The proxy binary needs OpenSSL's libcrypto, which Debian's minimal root file
# system lacks. Used by eng/setup.sh only when no registry can be reached.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libssl3 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
LABEL org.zmqaspire.stand-in="azurelinux-base-core-3.0"
