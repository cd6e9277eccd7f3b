# Switchboard, one instance per container. Build: docker build -t switchboard .
# Run several behind HAProxy (deploy/haproxy.cfg) with REDIS_URL pointing at one Redis.
FROM rust:1.95-bookworm AS build
RUN rustup target add wasm32-unknown-unknown \
 && cargo install wasm-bindgen-cli --version 0.2.129 --locked \
 && apt-get update && apt-get install -y --no-install-recommends nodejs npm python3 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cd tools && npm ci --no-audit --no-fund
# build-site only installs what is missing; redis/haproxy are not needed to build.
RUN apt-get update && apt-get install -y --no-install-recommends redis-server haproxy curl && rm -rf /var/lib/apt/lists/* \
 && scripts/build-site release

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home /app switchboard
WORKDIR /app
COPY --from=build /src/target/release/switchboard-server /app/switchboard-server
COPY --from=build /src/target/site /app/site
ENV LEPTOS_SITE_ROOT=/app/site LEPTOS_OUTPUT_NAME=switchboard LEPTOS_SITE_PKG_DIR=pkg \
    LISTEN_ADDR=0.0.0.0:3000 RUST_LOG=info
USER switchboard
# 3000: the site and websockets; 9100: /metrics when METRICS_ADDR=0.0.0.0:9100 (keep it private).
EXPOSE 3000 9100
HEALTHCHECK --interval=5s --timeout=2s CMD curl -fsS http://127.0.0.1:3000/healthz || exit 1
STOPSIGNAL SIGTERM
CMD ["/app/switchboard-server"]
