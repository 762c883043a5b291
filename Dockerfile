# syntax=docker/dockerfile:1
# A static brickyard binary on a distroless base, run as a non-root user;
# the image deploy/kubernetes runs (its manifests name /usr/local/bin/brickyard).
#   docker build --build-arg VERSION=$(git describe --tags --always) -t brickyard .
#   docker run --rm brickyard version

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/brickyard ./cmd/brickyard

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
LABEL org.opencontainers.image.title=brickyard org.opencontainers.image.version=${VERSION}
COPY --from=build /out/brickyard /usr/local/bin/brickyard
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/brickyard"]
CMD ["--help"]
