# CI only: Debian bookworm (debootstrap's minbase, imported as newsroom-ci/bookworm by
# .ci/compose-smoke) that trusts the host's certificate authorities, so that apt and pip
# reach the package registries as the host does from builds run with --network host.
# host-ca.crt is the host's bundle, copied beside this file by the script (git ignores it).
FROM newsroom-ci/bookworm
COPY host-ca.crt /usr/local/share/ca-certificates/ci-host.crt
# Packages never start their services while an image is built.
RUN printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d \
    && apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ca-certificates \
    && update-ca-certificates >/dev/null \
    && rm -rf /var/lib/apt/lists/*
ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
