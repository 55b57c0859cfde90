# syntax=docker/dockerfile:1
# The image for automation/gitlab-ci/evtchn.yaml's jobs: Debian 12 with the host packages of
# tools/host-deps.sh, installed by that script (one list: the jobs' own `make setup` runs the
# same script and finds nothing missing). Built from the harness's checkout as context:
#
#   docker build -t evtchn:12-x86_64 -f automation/build/debian/12-x86_64-evtchn.dockerfile .
#
# In Xen's automation/build/ (whose Makefile builds in the dockerfile's folder), that folder
# needs tools/host-deps.sh beside it, or the command above run from a harness checkout.
# Debian's Xen, the dom0 kernel and toolstack, and the Python venv are fetched by the jobs
# (their cache keeps the first); QEMU runs Xen under TCG, so the image needs no KVM.
FROM --platform=linux/amd64 debian:bookworm
LABEL maintainer.name="The Xen Project"
LABEL maintainer.email="xen-devel@lists.xenproject.org"

ENV DEBIAN_FRONTEND=noninteractive

COPY tools/host-deps.sh /usr/local/sbin/evtchn-host-deps

RUN <<EOF
#!/bin/bash
    set -eu

    # git: the jobs clone the harness (EVTCHN_HARNESS_URL) in Xen's pipeline.
    evtchn-host-deps git

    rm -rf /var/lib/apt/lists*
EOF

# Root, as the jobs install what a newer harness may add (tools/host-deps.sh, apt-get).
USER root
WORKDIR /build
