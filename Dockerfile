# Gantry: one binary, two roles (config, deployer). Multi-stage: build with the Swift 6 toolchain, run on a
# slim Debian with only the runtime libraries, as a non-root user.
#
#   docker build -t gantry .
#   docker run -p 8080:8080 -v gantry-data:/var/lib/gantry gantry
#
# ---- build ----
FROM swift:6.1-bookworm AS build
WORKDIR /src
# Resolve dependencies first so source edits reuse the cached layer.
COPY Package.swift ./
RUN swift package resolve
COPY Sources ./Sources
RUN swift build -c release --product gantry --static-swift-stdlib
# The binary and its resource bundles (the OpenAPI document, the web console), which it finds beside itself.
RUN mkdir -p /out \
 && BIN="$(swift build -c release --show-bin-path)" \
 && cp "$BIN/gantry" /out/gantry \
 && cp -R "$BIN"/*.resources /out/

# ---- runtime ----
FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libcurl4 libxml2 tzdata curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/gantry --create-home --shell /usr/sbin/nologin gantry
COPY --from=build /out/ /usr/local/bin/
USER 10001:10001
WORKDIR /var/lib/gantry
ENV GANTRY_HOST=0.0.0.0 \
    GANTRY_PORT=8080 \
    GANTRY_DATABASE_URL=sqlite:/var/lib/gantry/gantry.db \
    GANTRY_LOG_FORMAT=json
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["/usr/local/bin/gantry"]
CMD ["serve"]
