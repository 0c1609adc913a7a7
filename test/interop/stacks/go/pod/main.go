// Command pod is the grpc-go pod of the interop matrix (issue 14,
// test/interop/README.md): a plain grpc-go 1.33 server, as Debian's
// golang-google-grpc-dev ships it, serving probe.v1.ProbeService with the
// behaviour of the reference pod (test/support/probe-service.ts), plus
// grpc.health.v1 and server reflection (v1alpha, all grpc-go 1.33 has).
//
// The suite once had only connect-node pods written in this project and
// stayed green while real grpc-go pods broke through the gateway (every
// error arrived as INTERNAL, headers were held back). So this pod is
// written the way a grpc-go user writes one: typed messages and a
// grpc.ServiceDesc made by protoc-gen-go (plugins=grpc) from our own
// probe.proto, metadata through grpc.SetHeader/SendHeader/SetTrailer,
// errors through google.golang.org/grpc/status, the stock health and
// reflection services, and gzip registered as grpc-go users register it.
//
// Usage: pod -name POD. It listens on 127.0.0.1 and an ephemeral port,
// prints "listening on 127.0.0.1:PORT" as its first stdout line (the
// contract of spawnPod in test/interop/stacks/pod-stack.ts) and exits 0 on
// SIGTERM.
package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"edgegate/interop/probepb"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	_ "google.golang.org/grpc/encoding/gzip" // accept gzip requests; answers are compressed when the request was
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"
)

// The request headers whose value the pod sends back, as the servers of the
// gRPC interop test descriptions do (their custom_metadata case).
const (
	echoInitial  = "x-grpc-test-echo-initial"
	echoTrailing = "x-grpc-test-echo-trailing-bin"
)

func main() {
	name := flag.String("name", "", "the pod name it answers with (ProbeResponse.pod)")
	flag.Parse()
	if *name == "" {
		fmt.Fprintln(os.Stderr, "pod: -name is required")
		os.Exit(2)
	}

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintf(os.Stderr, "pod: listen: %v\n", err)
		os.Exit(1)
	}

	server := grpc.NewServer()
	probepb.RegisterProbeServiceServer(server, &probeServer{pod: *name})
	healthServer := health.NewServer()
	// "" is SERVING from the start in grpc-go; the service is named as well,
	// and any other name answers NOT_FOUND (what the health case checks).
	healthServer.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	healthServer.SetServingStatus("probe.v1.ProbeService", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(server, healthServer)
	reflection.Register(server)

	// os.Stdout is unbuffered in Go: the line is out when Println returns.
	fmt.Println("listening on " + lis.Addr().String())

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	served := make(chan error, 1)
	go func() { served <- server.Serve(lis) }()

	select {
	case err := <-served:
		fmt.Fprintf(os.Stderr, "pod: serve: %v\n", err)
		os.Exit(1)
	case <-signals:
	}
	// A short drain: spawnPod's close() SIGKILLs after 2 s, and a test that
	// closes a pod does not wait for calls that a client left hanging.
	stopped := make(chan struct{})
	go func() {
		healthServer.Shutdown()
		server.GracefulStop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(500 * time.Millisecond):
		server.Stop()
	}
	os.Exit(0)
}

// probeServer implements probe.v1.ProbeService as README.md's "Pod
// behaviour" describes it, method by method.
type probeServer struct {
	pod string
}

// Probe sets the asked headers and trailers, sleeps, then fails or answers.
func (p *probeServer) Probe(ctx context.Context, req *probepb.ProbeRequest) (*probepb.ProbeResponse, error) {
	header, trailer := callMetadata(ctx, req)
	// Unary: the headers go out with the answer (or the status), as a
	// grpc-go handler's grpc.SetHeader does.
	if err := grpc.SetHeader(ctx, header); err != nil {
		return nil, err
	}
	if err := grpc.SetTrailer(ctx, trailer); err != nil {
		return nil, err
	}
	if err := sleep(ctx, req.GetSleepMs()); err != nil {
		return nil, err
	}
	if err := p.failure(req); err != nil {
		return nil, err
	}
	return p.respond(ctx, req), nil
}

// ProbeStream sends `count` answers, the first after sleep_ms, then
// interval_ms apart; then fails if asked.
func (p *probeServer) ProbeStream(req *probepb.ProbeRequest, stream probepb.ProbeService_ProbeStreamServer) error {
	ctx := stream.Context()
	header, trailer := callMetadata(ctx, req)
	stream.SetTrailer(trailer)
	if req.GetCount() > 0 {
		// Headers at once, before the first (possibly slow) message: what
		// grpc-go pods that call SendHeader do, and what issue 14's defect 4
		// (headers held back until the first message) is about.
		if err := stream.SendHeader(header); err != nil {
			return err
		}
	} else if err := stream.SetHeader(header); err != nil {
		// No message to come: the headers wait for the status, so a failure
		// with no header metadata is a Trailers-Only answer, as grpc-go
		// gives one.
		return err
	}
	for i := uint32(0); i < req.GetCount(); i++ {
		wait := req.GetIntervalMs()
		if i == 0 {
			wait = req.GetSleepMs()
		}
		if err := sleep(ctx, wait); err != nil {
			return err
		}
		res := p.respond(ctx, req)
		res.Index = i
		if err := stream.Send(res); err != nil {
			return err
		}
	}
	return p.failure(req)
}

// ProbeClientStream reads every request; the first drives the answer, whose
// count is the number of requests and received_bytes their payloads summed.
func (p *probeServer) ProbeClientStream(stream probepb.ProbeService_ProbeClientStreamServer) error {
	ctx := stream.Context()
	var first *probepb.ProbeRequest
	var count uint32
	var received uint64
	for {
		req, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		received += uint64(len(req.GetPayload()))
		if first == nil {
			first = req
			header, trailer := callMetadata(ctx, req)
			if err := stream.SetHeader(header); err != nil {
				return err
			}
			stream.SetTrailer(trailer)
		}
		count++
	}
	if first == nil {
		return status.Error(codes.InvalidArgument, "no requests")
	}
	if err := p.failure(first); err != nil {
		return err
	}
	res := p.respond(ctx, first)
	res.Count = count
	res.ReceivedBytes = received
	return stream.SendAndClose(res)
}

// ProbeBidi answers each request as it arrives: fails if that request asks,
// sleeps its sleep_ms first.
func (p *probeServer) ProbeBidi(stream probepb.ProbeService_ProbeBidiServer) error {
	ctx := stream.Context()
	index := uint32(0)
	for {
		req, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if index == 0 {
			// The first request's metadata wishes hold for the call. The
			// headers leave with the first answer, or with the status when
			// the first request fails (Trailers-Only when there are none).
			header, trailer := callMetadata(ctx, req)
			if err := stream.SetHeader(header); err != nil {
				return err
			}
			stream.SetTrailer(trailer)
		}
		if err := p.failure(req); err != nil {
			return err
		}
		if err := sleep(ctx, req.GetSleepMs()); err != nil {
			return err
		}
		res := p.respond(ctx, req)
		res.Index = index
		index++
		if err := stream.Send(res); err != nil {
			return err
		}
	}
}

// callMetadata is the response header and trailer metadata a call asks for:
// response_headers, response_trailers, and the two echoed request headers.
// grpc-go hands -bin values over decoded and encodes them again on the way
// out, so the binary trailer goes back as the bytes that came.
func callMetadata(ctx context.Context, req *probepb.ProbeRequest) (metadata.MD, metadata.MD) {
	header := metadata.MD{}
	trailer := metadata.MD{}
	for k, v := range req.GetResponseHeaders() {
		header.Set(k, v)
	}
	for k, v := range req.GetResponseTrailers() {
		trailer.Set(k, v)
	}
	incoming, _ := metadata.FromIncomingContext(ctx)
	if v := incoming.Get(echoInitial); len(v) > 0 {
		header.Set(echoInitial, v...)
	}
	if v := incoming.Get(echoTrailing); len(v) > 0 {
		trailer.Set(echoTrailing, v...)
	}
	return header, trailer
}

// failure is the status a request asks for (fail_code, fail_message), with a
// google.rpc.Status detail probe.v1.ProbeDetail{text: fail_detail, pod} when
// fail_detail is set; nil when fail_code is 0.
func (p *probeServer) failure(req *probepb.ProbeRequest) error {
	if req.GetFailCode() == 0 {
		return nil
	}
	st := status.New(codes.Code(req.GetFailCode()), req.GetFailMessage())
	if req.GetFailDetail() != "" {
		withDetails, err := st.WithDetails(&probepb.ProbeDetail{Text: req.GetFailDetail(), Pod: p.pod})
		if err != nil {
			return status.Errorf(codes.Internal, "attaching the detail: %v", err)
		}
		st = withDetails
	}
	return st.Err()
}

// respond is the answer to a request: the pod name, the request headers as
// the pod saw them, payload_size bytes of 'a' (else the request's payload
// echoed), the echo fields, and the request payload's length.
// response_compression is not looked at: grpc-go 1.33 cannot choose the
// compression per call (grpc.SetSendCompressor came in 1.54); it compresses
// the answer with the request's own encoding when the request came
// compressed (the stack says so with perCallResponseCompression: false).
func (p *probeServer) respond(ctx context.Context, req *probepb.ProbeRequest) *probepb.ProbeResponse {
	payload := req.GetPayload()
	if size := req.GetPayloadSize(); size > 0 {
		payload = bytes.Repeat([]byte{'a'}, int(size))
	}
	return &probepb.ProbeResponse{
		Pod:            p.pod,
		RequestHeaders: requestHeaders(ctx),
		Payload:        payload,
		At:             req.GetAt(),
		Big:            req.GetBig(),
		Color:          req.GetColor(),
		ReceivedBytes:  uint64(len(req.GetPayload())),
	}
}

// requestHeaders is the incoming metadata in the shape the reference pod
// reports request headers (probe.proto: lower-case names, values joined by
// ", "). grpc-go's metadata is all a grpc-go handler sees: it leaves out the
// headers grpc-go consumes itself (te, grpc-timeout, grpc-encoding) and
// carries :authority, which is dropped here as the reference drops pseudo
// headers. -bin values come decoded; they are given back in standard base64
// without padding, the wire form connect-es and grpc-go clients send and so
// what the reference pod (which shows the raw header) reports for them. A
// client that pads (grpc-js) shows padded on the reference pod, unpadded
// here: grpc-go keeps only the decoded bytes.
func requestHeaders(ctx context.Context) map[string]string {
	incoming, _ := metadata.FromIncomingContext(ctx)
	headers := make(map[string]string, len(incoming))
	for name, values := range incoming {
		if strings.HasPrefix(name, ":") {
			continue
		}
		shown := values
		if strings.HasSuffix(name, "-bin") {
			shown = make([]string, len(values))
			for i, v := range values {
				shown[i] = base64.RawStdEncoding.EncodeToString([]byte(v))
			}
		}
		headers[name] = strings.Join(shown, ", ")
	}
	return headers
}

// sleep waits ms milliseconds, ending early with the call's status when the
// call is cancelled or its deadline passes (the timeout and cancel cases).
func sleep(ctx context.Context, ms uint32) error {
	if ms == 0 {
		return nil
	}
	timer := time.NewTimer(time.Duration(ms) * time.Millisecond)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return status.FromContextError(ctx.Err()).Err()
	}
}
