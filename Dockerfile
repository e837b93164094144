# brokerd container image: static binary on a minimal base, non-root, data in a volume.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/brokerd ./cmd/brokerd

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/brokerd /usr/local/bin/brokerd
COPY testdata/docker/brokerd.yaml /etc/brokerd/brokerd.yaml
USER nonroot:nonroot
VOLUME ["/data"]
EXPOSE 8084
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/brokerd", "health", "--config", "/etc/brokerd/brokerd.yaml"]
ENTRYPOINT ["/usr/local/bin/brokerd"]
CMD ["serve", "--config", "/etc/brokerd/brokerd.yaml"]
