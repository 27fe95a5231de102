# Images for docker-compose.yml: the control plane, the gateway (Envoy with the filter) and
# the mock provider. Build one with `docker build --target control-plane .`.
FROM rust:1.95-bookworm AS build
RUN rustup target add wasm32-wasip1
WORKDIR /src
COPY . .
RUN cargo build --release -p trimio-control-plane -p trimio-mock-provider \
 && cargo build --release -p trimio-filter --target wasm32-wasip1

FROM debian:bookworm-slim AS control-plane
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/trimio-control-plane /usr/local/bin/
VOLUME /data
EXPOSE 8081
ENTRYPOINT ["trimio-control-plane", "--listen", "0.0.0.0:8081", "--database", "/data/trimio.db"]

FROM debian:bookworm-slim AS mock-provider
COPY --from=build /src/target/release/trimio-mock-provider /usr/local/bin/
COPY tests/exchanges /exchanges
EXPOSE 8090
ENTRYPOINT ["trimio-mock-provider", "--listen", "0.0.0.0:8090", "/exchanges"]

FROM envoyproxy/envoy:v1.40.0 AS gateway
COPY --from=build /src/target/wasm32-wasip1/release/trimio_filter.wasm /etc/trimio/trimio_filter.wasm
COPY envoy/gateway.yaml /etc/envoy/envoy.yaml
EXPOSE 10000 9901
