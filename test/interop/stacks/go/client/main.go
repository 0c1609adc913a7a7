// Command client is the grpc-go client of the interop matrix (issue 14,
// test/interop/README.md): a plain grpc-go 1.33 client, as Debian's
// golang-google-grpc-dev ships it, that runs the README's cases (named as
// grpc/grpc doc/interop-test-descriptions.md names them) against a gateway
// listener or, as the control, a pod directly.
//
// Real users call edgegate with grpc-go; the issue found that every error
// of a real pod reached grpc-go as INTERNAL ("server closed the stream
// without sending trailers") while the suite, all connect clients, was
// green. So the cases are written as a grpc-go user writes calls: the stubs
// protoc-gen-go makes, grpc.Header/grpc.Trailer call options, status
// details decoded by google.golang.org/grpc/status, gzip by
// grpc.UseCompressor.
//
// Usage: client -addr 127.0.0.1:PORT -cases a,b,c [-ca FILE -server-name NAME]
// (h2c without -ca). Every case runs in the order given with its own 10 s
// timeout, and prints one JSON line {"case":…,"ok":…,"detail":…} on stdout
// (test/interop/clients/grpc-go-client.ts reads them as CaseOutcome). The
// exit code is 0 when every case could be tried, failed or not: the JSON
// says how each went.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"edgegate/interop/probepb"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/encoding/gzip"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
)

// caseTimeout bounds every case, so one that hangs (a lost trailer, say)
// fails alone instead of stalling the matrix.
const caseTimeout = 10 * time.Second

// The payload sizes of the gRPC interop test descriptions.
var (
	clientStreamSizes = []int{27182, 8, 1828, 45904}
	pingPongRequest   = []int{27182, 8, 1828, 45904}
	pingPongResponse  = []uint32{31415, 9, 2653, 58979}
)

const (
	largeRequestSize  = 271828
	largeResponseSize = 314159
	streamCount       = 4
	streamSize        = 31415

	echoInitial       = "x-grpc-test-echo-initial"
	echoInitialValue  = "test_initial_metadata_value"
	echoTrailing      = "x-grpc-test-echo-trailing-bin"
	specialMessage    = "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n"
	statusTestMessage = "test status message"
)

var echoTrailingValue = string([]byte{0xab, 0xab, 0xab})

// outcome is one JSON line, the shape of CaseOutcome (interop-client.ts).
type outcome struct {
	Case   string `json:"case"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// env is what a case calls with.
type env struct {
	conn   *grpc.ClientConn
	probe  probepb.ProbeServiceClient
	health healthpb.HealthClient
	wire   *wireStats
}

var cases = map[string]func(ctx context.Context, e *env) error{
	"empty_unary":                 emptyUnary,
	"large_unary":                 largeUnaryCase,
	"client_streaming":            clientStreamingCase,
	"server_streaming":            serverStreamingCase,
	"ping_pong":                   pingPong,
	"empty_stream":                emptyStream,
	"custom_metadata":             customMetadata,
	"status_code_and_message":     statusCodeAndMessage,
	"special_status_message":      specialStatusMessage,
	"unimplemented_method":        unimplementedMethod,
	"unimplemented_service":       unimplementedService,
	"timeout_on_sleeping_server":  timeoutOnSleepingServer,
	"cancel_after_begin":          cancelAfterBegin,
	"cancel_after_first_response": cancelAfterFirstResponse,
	"client_compressed_unary":     clientCompressedUnary,
	"server_compressed_unary":     serverCompressedUnary,
	"client_compressed_streaming": clientCompressedStreaming,
	"server_compressed_streaming": serverCompressedStreaming,
	"error_details":               errorDetails,
	"health":                      healthCase,
}

func main() {
	addr := flag.String("addr", "", "127.0.0.1:PORT of a gateway listener or a pod")
	list := flag.String("cases", "", "the cases to run, comma-separated, in order")
	ca := flag.String("ca", "", "TLS: the CA certificate file to trust (h2c without it)")
	serverName := flag.String("server-name", "", "TLS: the name to check the certificate against")
	flag.Parse()
	if *addr == "" || *list == "" {
		fmt.Fprintln(os.Stderr, "usage: client -addr 127.0.0.1:PORT -cases a,b,c [-ca FILE -server-name NAME]")
		os.Exit(2)
	}

	wire := &wireStats{}
	opts := []grpc.DialOption{grpc.WithStatsHandler(wire)}
	if *ca != "" {
		creds, err := credentials.NewClientTLSFromFile(*ca, *serverName)
		if err != nil {
			fmt.Fprintf(os.Stderr, "client: %v\n", err)
			os.Exit(2)
		}
		opts = append(opts, grpc.WithTransportCredentials(creds))
	} else {
		opts = append(opts, grpc.WithInsecure())
	}
	// Not blocking: a target that cannot be reached fails each case with
	// UNAVAILABLE, which the JSON then says.
	conn, err := grpc.Dial(*addr, opts...)
	if err != nil {
		fmt.Fprintf(os.Stderr, "client: dial %s: %v\n", *addr, err)
		os.Exit(2)
	}
	defer conn.Close()
	e := &env{conn: conn, probe: probepb.NewProbeServiceClient(conn), health: healthpb.NewHealthClient(conn), wire: wire}

	out := json.NewEncoder(os.Stdout)
	for _, name := range strings.Split(*list, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		result := outcome{Case: name, OK: true}
		if run, known := cases[name]; !known {
			result = outcome{Case: name, Detail: "the grpc-go client has no case of that name"}
		} else if err := runCase(run, e); err != nil {
			result = outcome{Case: name, Detail: err.Error()}
		}
		// One line per case as soon as it is over (os.Stdout is unbuffered).
		if err := out.Encode(result); err != nil {
			fmt.Fprintf(os.Stderr, "client: %v\n", err)
			os.Exit(1)
		}
	}
}

func runCase(run func(ctx context.Context, e *env) error, e *env) error {
	ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
	defer cancel()
	return run(ctx, e)
}

// --- the cases (test/interop/README.md, "Cases") ---

func emptyUnary(ctx context.Context, e *env) error {
	res, err := e.probe.Probe(ctx, &probepb.ProbeRequest{})
	if err != nil {
		return expectedOK("Probe({})", err)
	}
	if res.GetPod() == "" {
		return errors.New("expected pod to be set, it was empty")
	}
	if len(res.GetPayload()) != 0 {
		return fmt.Errorf("expected an empty payload, got %d bytes", len(res.GetPayload()))
	}
	return nil
}

func largeUnaryCase(ctx context.Context, e *env) error {
	return largeUnary(ctx, e, false, false)
}

func clientCompressedUnary(ctx context.Context, e *env) error {
	return largeUnary(ctx, e, true, false)
}

func serverCompressedUnary(ctx context.Context, e *env) error {
	return largeUnary(ctx, e, true, true)
}

func clientStreamingCase(ctx context.Context, e *env) error {
	return clientStreaming(ctx, e, false)
}

func clientCompressedStreaming(ctx context.Context, e *env) error {
	return clientStreaming(ctx, e, true)
}

func serverStreamingCase(ctx context.Context, e *env) error {
	return serverStreaming(ctx, e, false)
}

func serverCompressedStreaming(ctx context.Context, e *env) error {
	return serverStreaming(ctx, e, true)
}

func unimplementedMethod(ctx context.Context, e *env) error {
	return unimplemented(ctx, e, "/probe.v1.ProbeService/NoSuchMethod")
}

func unimplementedService(ctx context.Context, e *env) error {
	return unimplemented(ctx, e, "/probe.v1.NoSuchService/Probe")
}

// largeUnary is large_unary, and with compress the client_compressed_unary
// (request gzip-compressed) and, with askCompressed as well, the
// server_compressed_unary case: response_compression "gzip" asks pods that
// can choose per call, and the compressed request is what makes a grpc-go
// pod compress its answer (it answers in the request's encoding).
func largeUnary(ctx context.Context, e *env, compress, askCompressed bool) error {
	req := &probepb.ProbeRequest{Payload: make([]byte, largeRequestSize), PayloadSize: largeResponseSize}
	var opts []grpc.CallOption
	if compress {
		opts = append(opts, grpc.UseCompressor(gzip.Name))
	}
	if askCompressed {
		req.ResponseCompression = "gzip"
	}
	ctx, rec := e.wire.track(ctx, fmt.Sprintf("Probe(large, gzip request %v, response_compression %q)", compress, req.ResponseCompression))
	res, err := e.probe.Probe(ctx, req, opts...)
	if err != nil {
		return expectedOK("Probe(large)", err)
	}
	if err := checkPayload("payload", res.GetPayload(), largeResponseSize); err != nil {
		return err
	}
	if res.GetReceivedBytes() != largeRequestSize {
		return fmt.Errorf("expected received_bytes %d, got %d", largeRequestSize, res.GetReceivedBytes())
	}
	e.wire.note(rec, compress, askCompressed)
	return nil
}

func clientStreaming(ctx context.Context, e *env, compress bool) error {
	var opts []grpc.CallOption
	if compress {
		opts = append(opts, grpc.UseCompressor(gzip.Name))
	}
	ctx, rec := e.wire.track(ctx, fmt.Sprintf("ProbeClientStream(gzip requests %v)", compress))
	stream, err := e.probe.ProbeClientStream(ctx, opts...)
	if err != nil {
		return expectedOK("ProbeClientStream", err)
	}
	for _, size := range clientStreamSizes {
		if err := stream.Send(&probepb.ProbeRequest{Payload: make([]byte, size)}); err != nil {
			// Send reports io.EOF when the call ended; the status is in CloseAndRecv.
			_, err = stream.CloseAndRecv()
			return expectedOK("ProbeClientStream Send", err)
		}
	}
	res, err := stream.CloseAndRecv()
	if err != nil {
		return expectedOK("ProbeClientStream", err)
	}
	if res.GetCount() != uint32(len(clientStreamSizes)) {
		return fmt.Errorf("expected count %d, got %d", len(clientStreamSizes), res.GetCount())
	}
	if res.GetReceivedBytes() != 74922 {
		return fmt.Errorf("expected received_bytes 74922, got %d", res.GetReceivedBytes())
	}
	e.wire.note(rec, compress, false)
	return nil
}

func serverStreaming(ctx context.Context, e *env, askCompressed bool) error {
	req := &probepb.ProbeRequest{Count: streamCount, PayloadSize: streamSize}
	var opts []grpc.CallOption
	if askCompressed {
		req.ResponseCompression = "gzip"
		opts = append(opts, grpc.UseCompressor(gzip.Name))
	}
	ctx, rec := e.wire.track(ctx, fmt.Sprintf("ProbeStream(gzip request %v, response_compression %q)", askCompressed, req.ResponseCompression))
	stream, err := e.probe.ProbeStream(ctx, req, opts...)
	if err != nil {
		return expectedOK("ProbeStream", err)
	}
	for i := 0; ; i++ {
		res, err := stream.Recv()
		if err == io.EOF {
			if i != streamCount {
				return fmt.Errorf("expected %d answers, got %d then OK", streamCount, i)
			}
			break
		}
		if err != nil {
			return expectedOK(fmt.Sprintf("ProbeStream after %d answers", i), err)
		}
		if i >= streamCount {
			return fmt.Errorf("expected %d answers, got more", streamCount)
		}
		if res.GetIndex() != uint32(i) {
			return fmt.Errorf("answer %d: expected index %d, got %d", i, i, res.GetIndex())
		}
		if err := checkPayload(fmt.Sprintf("answer %d payload", i), res.GetPayload(), streamSize); err != nil {
			return err
		}
	}
	e.wire.note(rec, askCompressed, askCompressed)
	return nil
}

func pingPong(ctx context.Context, e *env) error {
	stream, err := e.probe.ProbeBidi(ctx)
	if err != nil {
		return expectedOK("ProbeBidi", err)
	}
	for i := range pingPongRequest {
		if err := stream.Send(&probepb.ProbeRequest{Payload: make([]byte, pingPongRequest[i]), PayloadSize: pingPongResponse[i]}); err != nil {
			_, err = stream.Recv()
			return expectedOK(fmt.Sprintf("ProbeBidi Send %d", i), err)
		}
		res, err := stream.Recv()
		if err != nil {
			return expectedOK(fmt.Sprintf("ProbeBidi answer %d", i), err)
		}
		if res.GetIndex() != uint32(i) {
			return fmt.Errorf("answer %d: expected index %d, got %d", i, i, res.GetIndex())
		}
		if err := checkPayload(fmt.Sprintf("answer %d payload", i), res.GetPayload(), int(pingPongResponse[i])); err != nil {
			return err
		}
	}
	if err := stream.CloseSend(); err != nil {
		return expectedOK("ProbeBidi CloseSend", err)
	}
	return expectEnd(stream.Recv)
}

func emptyStream(ctx context.Context, e *env) error {
	stream, err := e.probe.ProbeBidi(ctx)
	if err != nil {
		return expectedOK("ProbeBidi", err)
	}
	if err := stream.CloseSend(); err != nil {
		return expectedOK("ProbeBidi CloseSend", err)
	}
	return expectEnd(stream.Recv)
}

// customMetadata sends the echo headers with a unary and a bidi call (the
// interop descriptions' sizes) and checks the echoed header and the binary
// trailer on both.
func customMetadata(ctx context.Context, e *env) error {
	ctx = metadata.AppendToOutgoingContext(ctx, echoInitial, echoInitialValue, echoTrailing, echoTrailingValue)

	var header, trailer metadata.MD
	res, err := e.probe.Probe(ctx, &probepb.ProbeRequest{Payload: make([]byte, largeRequestSize), PayloadSize: largeResponseSize},
		grpc.Header(&header), grpc.Trailer(&trailer))
	if err != nil {
		return expectedOK("unary Probe", err)
	}
	if err := checkPayload("unary payload", res.GetPayload(), largeResponseSize); err != nil {
		return err
	}
	if err := checkEchoed("unary", header, trailer); err != nil {
		return err
	}

	stream, err := e.probe.ProbeBidi(ctx)
	if err != nil {
		return expectedOK("ProbeBidi", err)
	}
	if err := stream.Send(&probepb.ProbeRequest{Payload: make([]byte, 27182), PayloadSize: largeResponseSize}); err != nil {
		_, err = stream.Recv()
		return expectedOK("ProbeBidi Send", err)
	}
	res, err = stream.Recv()
	if err != nil {
		return expectedOK("ProbeBidi answer", err)
	}
	if err := checkPayload("bidi payload", res.GetPayload(), largeResponseSize); err != nil {
		return err
	}
	if err := stream.CloseSend(); err != nil {
		return expectedOK("ProbeBidi CloseSend", err)
	}
	if err := expectEnd(stream.Recv); err != nil {
		return fmt.Errorf("bidi: %v", err)
	}
	bidiHeader, err := stream.Header()
	if err != nil {
		return expectedOK("ProbeBidi Header", err)
	}
	return checkEchoed("bidi", bidiHeader, stream.Trailer())
}

func checkEchoed(call string, header, trailer metadata.MD) error {
	if got := header.Get(echoInitial); len(got) != 1 || got[0] != echoInitialValue {
		return fmt.Errorf("%s: expected header %s: %q, got %q", call, echoInitial, echoInitialValue, got)
	}
	if got := trailer.Get(echoTrailing); len(got) != 1 || got[0] != echoTrailingValue {
		return fmt.Errorf("%s: expected trailer %s: %x, got %x", call, echoTrailing, echoTrailingValue, got)
	}
	return nil
}

// statusCodeAndMessage fails a unary and a bidi call with UNKNOWN and a
// message, and checks both arrive as sent.
func statusCodeAndMessage(ctx context.Context, e *env) error {
	req := &probepb.ProbeRequest{FailCode: uint32(codes.Unknown), FailMessage: statusTestMessage}
	_, err := e.probe.Probe(ctx, req)
	if err := expectStatus("unary", err, codes.Unknown, statusTestMessage); err != nil {
		return err
	}
	stream, err := e.probe.ProbeBidi(ctx)
	if err != nil {
		return expectedOK("ProbeBidi", err)
	}
	if err := stream.Send(req); err == nil {
		if err := stream.CloseSend(); err != nil {
			return expectedOK("ProbeBidi CloseSend", err)
		}
	}
	_, err = stream.Recv()
	return expectStatus("bidi", err, codes.Unknown, statusTestMessage)
}

func specialStatusMessage(ctx context.Context, e *env) error {
	_, err := e.probe.Probe(ctx, &probepb.ProbeRequest{FailCode: uint32(codes.Unknown), FailMessage: specialMessage})
	return expectStatus("unary", err, codes.Unknown, specialMessage)
}

// unimplemented calls a method by its raw name, as the interop
// descriptions' unimplemented_* cases do (no stub has it).
func unimplemented(ctx context.Context, e *env, method string) error {
	err := e.conn.Invoke(ctx, method, &probepb.ProbeRequest{}, &probepb.ProbeResponse{})
	return expectCode(method, err, codes.Unimplemented)
}

func timeoutOnSleepingServer(ctx context.Context, e *env) error {
	ctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	_, err := e.probe.Probe(ctx, &probepb.ProbeRequest{SleepMs: 5000})
	return expectCode("Probe(sleep_ms 5000) with a 100 ms deadline", err, codes.DeadlineExceeded)
}

func cancelAfterBegin(ctx context.Context, e *env) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := e.probe.ProbeClientStream(ctx)
	if err != nil {
		return expectedOK("ProbeClientStream", err)
	}
	cancel()
	_, err = stream.CloseAndRecv()
	return expectCode("ProbeClientStream cancelled before any request", err, codes.Canceled)
}

func cancelAfterFirstResponse(ctx context.Context, e *env) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := e.probe.ProbeBidi(ctx)
	if err != nil {
		return expectedOK("ProbeBidi", err)
	}
	if err := stream.Send(&probepb.ProbeRequest{Payload: make([]byte, 27182), PayloadSize: 31415}); err != nil {
		_, err = stream.Recv()
		return expectedOK("ProbeBidi Send", err)
	}
	if _, err := stream.Recv(); err != nil {
		return expectedOK("ProbeBidi first answer", err)
	}
	cancel()
	_, err = stream.Recv()
	return expectCode("ProbeBidi cancelled after the first answer", err, codes.Canceled)
}

// errorDetails checks FAILED_PRECONDITION with its message, and the
// ProbeDetail among the google.rpc.Status details (grpc-status-details-bin).
func errorDetails(ctx context.Context, e *env) error {
	_, err := e.probe.Probe(ctx, &probepb.ProbeRequest{FailCode: uint32(codes.FailedPrecondition), FailMessage: "precondition", FailDetail: "why"})
	if err := expectStatus("unary", err, codes.FailedPrecondition, "precondition"); err != nil {
		return err
	}
	st, _ := status.FromError(err)
	var seen []string
	for _, d := range st.Details() {
		if detail, ok := d.(*probepb.ProbeDetail); ok {
			if detail.GetText() != "why" || detail.GetPod() == "" {
				return fmt.Errorf("expected detail ProbeDetail{text: \"why\", pod: <set>}, got {text: %q, pod: %q}", detail.GetText(), detail.GetPod())
			}
			return nil
		}
		seen = append(seen, fmt.Sprintf("%T %v", d, d))
	}
	return fmt.Errorf("expected a probe.v1.ProbeDetail detail, got %d details %v", len(st.Details()), seen)
}

func healthCase(ctx context.Context, e *env) error {
	for _, service := range []string{"", "probe.v1.ProbeService"} {
		res, err := e.health.Check(ctx, &healthpb.HealthCheckRequest{Service: service})
		if err != nil {
			return expectedOK(fmt.Sprintf("Health/Check(%q)", service), err)
		}
		if res.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			return fmt.Errorf("Health/Check(%q): expected SERVING, got %v", service, res.GetStatus())
		}
	}
	_, err := e.health.Check(ctx, &healthpb.HealthCheckRequest{Service: "no.such.Service"})
	return expectCode(`Health/Check("no.such.Service")`, err, codes.NotFound)
}

// --- checks ---

func expectedOK(call string, err error) error {
	if err == nil {
		return fmt.Errorf("%s: the call ended OK before it was over", call)
	}
	st, _ := status.FromError(err)
	return fmt.Errorf("%s: expected OK, got %s: %q", call, st.Code(), st.Message())
}

func expectCode(call string, err error, want codes.Code) error {
	if err == nil {
		return fmt.Errorf("%s: expected %s, got OK", call, want)
	}
	st, _ := status.FromError(err)
	if st.Code() != want {
		return fmt.Errorf("%s: expected %s, got %s: %q", call, want, st.Code(), st.Message())
	}
	return nil
}

func expectStatus(call string, err error, want codes.Code, message string) error {
	if err := expectCode(call, err, want); err != nil {
		return err
	}
	st, _ := status.FromError(err)
	if st.Message() != message {
		return fmt.Errorf("%s: expected %s with message %q, got message %q", call, want, message, st.Message())
	}
	return nil
}

// expectEnd reads a stream that should have nothing more: the call ends OK.
func expectEnd(recv func() (*probepb.ProbeResponse, error)) error {
	res, err := recv()
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return expectedOK("the end of the stream", err)
	}
	return fmt.Errorf("expected the end of the stream, got an answer (index %d)", res.GetIndex())
}

// checkPayload checks a payload is size bytes of 'a' (what the pods send).
func checkPayload(what string, payload []byte, size int) error {
	if len(payload) != size {
		return fmt.Errorf("expected %s of %d bytes, got %d", what, size, len(payload))
	}
	if i := bytes.IndexFunc(payload, func(r rune) bool { return r != 'a' }); i >= 0 {
		return fmt.Errorf("expected %s of 'a' bytes, byte %d is %#x", what, i, payload[i])
	}
	return nil
}

// --- wire sizes, for the compressed cases ---

// wireStats records, per call, the message bytes against their bytes on the
// wire (stats.InPayload/OutPayload), so the compressed cases can say on
// stderr whether compression happened. It is a note, not a check: the
// README's expectation for them is large_unary's and the streams', and a
// stack that cannot compress per call answers uncompressed.
type wireStats struct{}

type wireRecord struct {
	what                   string
	mu                     sync.Mutex
	sent, sentWire         int
	received, receivedWire int
}

type wireKey struct{}

func (w *wireStats) track(ctx context.Context, what string) (context.Context, *wireRecord) {
	rec := &wireRecord{what: what}
	return context.WithValue(ctx, wireKey{}, rec), rec
}

func (w *wireStats) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context { return ctx }
func (w *wireStats) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return ctx
}
func (w *wireStats) HandleConn(context.Context, stats.ConnStats) {}

func (w *wireStats) HandleRPC(ctx context.Context, s stats.RPCStats) {
	rec, ok := ctx.Value(wireKey{}).(*wireRecord)
	if !ok {
		return
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	switch p := s.(type) {
	case *stats.InPayload:
		rec.received += p.Length
		rec.receivedWire += p.WireLength
	case *stats.OutPayload:
		rec.sent += p.Length
		rec.sentWire += p.WireLength
	}
}

// note writes to stderr how the compressed cases' messages went on the wire
// (each message has a 5-byte gRPC prefix on top).
func (w *wireStats) note(rec *wireRecord, requestCompressed, responseAsked bool) {
	if !requestCompressed && !responseAsked {
		return
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	fmt.Fprintf(os.Stderr, "client: %s: requests %d bytes, %d on the wire; answers %d bytes, %d on the wire\n",
		rec.what, rec.sent, rec.sentWire, rec.received, rec.receivedWire)
}
