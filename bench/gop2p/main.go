// gop2p: a go-ethereum p2p.Server running the test/1 protocol, for the benchmarks
// (bench/run_all.py) and the interop tests (tests/interop/test_gop2p.py).
//
// It stands in for bench/ejs_bench.mjs: the same command line, the same JSON lines on stdout
// and the same stdin commands, so bench/harness.py drives both alike (GoBench, EjsBench).
// The test/1 protocol mirrors protocols/test_protocol.py: 8 codes, raw payloads (no RLP),
// echo, a counted sender with a window, round-trip times, reports.
//
// Built by scripts/tools.sh into .tools/gop2p-<go-ethereum version>/gop2p, against the
// go-ethereum module that requirements/go-ethereum.txt pins (go.mod / go.sum here).
//
// Usage: gop2p '<json options>'
//
//	key          hex private key (32 bytes); default: a fresh one
//	port         TCP port to listen on (0 = any), always on 127.0.0.1
//	clientId     Hello client id (default "gop2p-bench")
//	maxPeers     p2p.Config.MaxPeers (default 25).  go-ethereum keeps MaxPeers/dialRatio of
//	             them for dialled peers: inbound slots = maxPeers - maxPeers/dialRatio
//	             (static dials - "dial", the dial command, dialBench - are not limited)
//	dialRatio    p2p.Config.DialRatio (default 0 = go-ethereum's 3)
//	maxPending   p2p.Config.MaxPendingPeers (default 0 = go-ethereum's 50 handshakes at once)
//	noDelay      accepted for ejs_bench.mjs's contract; Go sets TCP_NODELAY on every TCP
//	             socket by default, so it is always on
//	echo         test/1: echo every message back (same code, same payload; default true)
//	send         test/1 sender, started on every peer when it connects: {count, size, window
//	             (default 64), rounds (default 1), pauseMs (default 200), rtt}.  Payload:
//	             8-byte big-endian sequence number, then random bytes (a random filler rotated
//	             by seq % 251, like protocols/test_protocol.py).  After each round prints a
//	             test_report; with rtt, per-message send->echo times (rtt_ms).
//	dial         enode URL to dial (as a static peer) once listening (optional)
//	dialBench    {enode, count, pauseMs}: dial enode count times in a row, each time from the
//	             TCP connect to the peer's test/1 start (peer_added), then disconnect it and
//	             wait for the drop; prints dial_report {latencies_ms}
//	quietPeers   do not print peer_added/peer_removed per peer
//	verbosity    go-ethereum log level on stderr (0 = none, 3 = info, 5 = trace)
//
// Prints one JSON object per line: listening {port, id, enode}, peer_added {id, t, clientId,
// caps, inbound}, peer_removed {id, reason, error, disconnectWe, t}, test_report,
// dial_report, peers {count}, error {message}.  id = the peer's 64-byte public key in hex
// (as ejs_bench.mjs prints it), t = wall-clock epoch milliseconds.
// stdin commands: quit | dial <enode> | peers.  quit (or stdin closing, or SIGTERM/SIGINT)
// stops the server, which sends every peer a Disconnect (client quitting), then exits 0.
package main

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	crand "crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/log"
	"github.com/ethereum/go-ethereum/p2p"
	"github.com/ethereum/go-ethereum/p2p/enode"
)

// testLength is test/1's number of message codes (protocols/test_protocol.py LENGTH).
const testLength = 8

type sendOpts struct {
	Count   int  `json:"count"`
	Size    int  `json:"size"`
	Window  int  `json:"window"`
	Rounds  int  `json:"rounds"`
	PauseMs *int `json:"pauseMs"`
	Rtt     bool `json:"rtt"`
}

type dialBenchOpts struct {
	Enode   string `json:"enode"`
	Count   int    `json:"count"`
	PauseMs *int   `json:"pauseMs"`
}

type options struct {
	Key        string         `json:"key"`
	Port       int            `json:"port"`
	ClientID   string         `json:"clientId"`
	MaxPeers   *int           `json:"maxPeers"`
	DialRatio  int            `json:"dialRatio"`
	MaxPending int            `json:"maxPending"`
	NoDelay    *bool          `json:"noDelay"`
	Echo       *bool          `json:"echo"`
	Send       *sendOpts      `json:"send"`
	Dial       string         `json:"dial"`
	DialBench  *dialBenchOpts `json:"dialBench"`
	QuietPeers bool           `json:"quietPeers"`
	Verbosity  int            `json:"verbosity"`
}

// -- output --------------------------------------------------------------------------------

var outMu sync.Mutex

// out prints one JSON object per line; lines from different goroutines never interleave.
func out(obj map[string]any) {
	b, err := json.Marshal(obj)
	if err != nil {
		b = []byte(fmt.Sprintf(`{"event":"error","message":%q}`, err.Error()))
	}
	outMu.Lock()
	os.Stdout.Write(append(b, '\n'))
	outMu.Unlock()
}

func outError(format string, args ...any) {
	out(map[string]any{"event": "error", "message": fmt.Sprintf(format, args...)})
}

func nowMs() float64 { return float64(time.Now().UnixNano()) / 1e6 }

func pubHex(pub *ecdsa.PublicKey) string { return hex.EncodeToString(crypto.FromECDSAPub(pub)[1:]) }

// summary: count, min, median, p99 (nearest rank), max, mean of xs (ms), as
// _rtt_summary in protocols/test_protocol.py and summary() in ejs_bench.mjs.
func summary(xs []float64) map[string]any {
	n := len(xs)
	if n == 0 {
		return map[string]any{"count": 0}
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	median := s[n/2]
	if n%2 == 0 {
		median = (s[n/2-1] + s[n/2]) / 2
	}
	k := (99*n+99)/100 - 1 // ceil(0.99 n) - 1
	if k < 0 {
		k = 0
	}
	if k > n-1 {
		k = n - 1
	}
	sum := 0.0
	for _, x := range s {
		sum += x
	}
	return map[string]any{"count": n, "min": s[0], "median": median, "p99": s[k], "max": s[n-1], "mean": sum / float64(n)}
}

// -- the node ------------------------------------------------------------------------------

type bench struct {
	opts   options
	srv    *p2p.Server
	echo   bool
	send   *sendOpts
	filler []byte

	mu          sync.Mutex
	addWaiters  map[string]chan float64 // peer id hex -> gets the peer_added time (dialBench)
	ids         map[enode.ID]string     // enode ID -> public key hex, for peer_removed
	disconnects map[enode.ID]bool       // peers we disconnected (disconnectWe)
	quitting    bool
}

func main() {
	var opts options
	arg := "{}"
	if len(os.Args) > 1 {
		arg = os.Args[1]
	}
	if err := json.Unmarshal([]byte(arg), &opts); err != nil {
		fmt.Fprintf(os.Stderr, "gop2p: bad options %q: %v\n", arg, err)
		os.Exit(2)
	}
	b := &bench{opts: opts, echo: opts.Echo == nil || *opts.Echo, send: opts.Send,
		addWaiters: map[string]chan float64{}, ids: map[enode.ID]string{}, disconnects: map[enode.ID]bool{}}
	if b.send != nil && b.send.Count > 0 {
		if b.send.Window <= 0 {
			b.send.Window = 64 // ejs_bench.mjs's default
		}
		if b.send.Rounds <= 0 {
			b.send.Rounds = 1
		}
		b.filler = make([]byte, max(b.send.Size, 8))
		crand.Read(b.filler)
	} else {
		b.send = nil
	}
	if err := b.start(); err != nil {
		fmt.Fprintf(os.Stderr, "gop2p: %v\n", err)
		os.Exit(1)
	}
	b.commands()
}

func (b *bench) start() error {
	var key *ecdsa.PrivateKey
	var err error
	if b.opts.Key != "" {
		key, err = crypto.HexToECDSA(strings.TrimPrefix(b.opts.Key, "0x"))
	} else {
		key, err = crypto.GenerateKey()
	}
	if err != nil {
		return fmt.Errorf("key: %w", err)
	}
	maxPeers := 25 // ejs_bench.mjs's default
	if b.opts.MaxPeers != nil {
		maxPeers = *b.opts.MaxPeers
	}
	name := b.opts.ClientID
	if name == "" {
		name = "gop2p-bench"
	}
	logger := log.NewLogger(log.DiscardHandler())
	if b.opts.Verbosity > 0 {
		logger = log.NewLogger(log.NewTerminalHandlerWithLevel(os.Stderr, log.FromLegacyLevel(b.opts.Verbosity), false))
	}
	b.srv = &p2p.Server{Config: p2p.Config{
		PrivateKey:      key,
		MaxPeers:        maxPeers,
		DialRatio:       b.opts.DialRatio,
		MaxPendingPeers: b.opts.MaxPending,
		NoDiscovery:     true,
		Name:            name,
		ListenAddr:      fmt.Sprintf("127.0.0.1:%d", b.opts.Port),
		Logger:          logger,
		Protocols: []p2p.Protocol{{
			Name: "test", Version: 1, Length: testLength, Run: b.run,
		}},
	}}
	// Subscribe before Start so that no drop is missed.
	events := make(chan *p2p.PeerEvent, 1024)
	b.srv.SubscribeEvents(events)
	go b.peerEvents(events)
	if err := b.srv.Start(); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	_, port, _ := net.SplitHostPort(b.srv.ListenAddr)
	var portN int
	fmt.Sscan(port, &portN)
	id := pubHex(&key.PublicKey)
	out(map[string]any{"event": "listening", "port": portN, "id": id,
		"enode": fmt.Sprintf("enode://%s@127.0.0.1:%d", id, portN)})
	if b.opts.Dial != "" {
		b.dial(b.opts.Dial)
	}
	if b.opts.DialBench != nil {
		go func() {
			if err := b.dialBench(*b.opts.DialBench); err != nil {
				outError("dialBench: %v", err)
			}
		}()
	}
	return nil
}

// commands reads stdin (quit | dial <enode> | peers) and handles SIGTERM/SIGINT; returns
// only through exit().
func (b *bench) commands() {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sig
		b.exit()
	}()
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		switch fields[0] {
		case "quit":
			b.exit()
		case "dial":
			if len(fields) > 1 {
				b.dial(fields[1])
			}
		case "peers":
			out(map[string]any{"event": "peers", "count": b.srv.PeerCount()})
		}
	}
	b.exit() // stdin closed: the driving process has gone
}

// exit stops the server (a Disconnect with "client quitting" to every peer, waiting for
// their protocol goroutines) and exits 0; bounded: after 5 s it exits anyway.
func (b *bench) exit() {
	b.mu.Lock()
	b.quitting = true
	b.mu.Unlock()
	done := make(chan struct{})
	go func() { b.srv.Stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		fmt.Fprintln(os.Stderr, "gop2p: server did not stop within 5 s")
	}
	os.Exit(0)
}

func (b *bench) dial(url string) {
	n, err := enode.ParseV4(url)
	if err != nil {
		outError("dial: %v", err)
		return
	}
	b.srv.AddPeer(n) // a static peer: dialled now and again after a disconnect
}

// peerEvents turns the server's drop events into peer_removed lines.  The reason is the
// DiscReason whose text go-ethereum put in the event (null for a network error, e.g. EOF);
// disconnectWe is our own bookkeeping (go-ethereum's event does not say who disconnected).
func (b *bench) peerEvents(ch chan *p2p.PeerEvent) {
	for ev := range ch {
		if ev.Type != p2p.PeerEventTypeDrop {
			continue
		}
		b.mu.Lock()
		id, known := b.ids[ev.Peer]
		delete(b.ids, ev.Peer)
		we := b.disconnects[ev.Peer] || b.quitting
		delete(b.disconnects, ev.Peer)
		b.mu.Unlock()
		if !known || b.opts.QuietPeers {
			continue
		}
		var reason any
		for r := p2p.DiscReason(0); r <= p2p.DiscSubprotocolError; r++ {
			if r.Error() == ev.Error {
				reason = int(r)
				break
			}
		}
		out(map[string]any{"event": "peer_removed", "id": id, "reason": reason, "error": ev.Error,
			"disconnectWe": we, "t": nowMs()})
	}
}

// -- test/1 --------------------------------------------------------------------------------

// run is test/1's handler for one peer, started by go-ethereum once the Hellos are exchanged
// and the peer is in the server's set (like the Protocol actor's started() in
// protocols/test_protocol.py).  It returns when the peer goes (ReadMsg fails).
func (b *bench) run(p *p2p.Peer, rw p2p.MsgReadWriter) error {
	id := pubHex(p.Node().Pubkey())
	t := nowMs()
	b.mu.Lock()
	b.ids[p.ID()] = id
	w := b.addWaiters[id]
	delete(b.addWaiters, id)
	b.mu.Unlock()
	if !b.opts.QuietPeers {
		caps := []string{}
		for _, c := range p.Caps() {
			caps = append(caps, c.String())
		}
		out(map[string]any{"event": "peer_added", "id": id, "t": t, "clientId": p.Name(), "caps": caps,
			"inbound": p.Inbound()})
	}
	if w != nil {
		w <- t
	}
	done := make(chan struct{})
	defer close(done)
	var s *sender
	if b.send != nil {
		// A side with a count is the sender: every message it receives is an echo of its own,
		// never echoed again (test_protocol.py: "A side with send_count > 0 is the sender").
		s = &sender{b: b, opts: b.send, rw: rw, done: done}
		go s.startRound(0)
	}
	for {
		msg, err := rw.ReadMsg()
		if err != nil {
			return err
		}
		buf := make([]byte, msg.Size)
		if _, err := io.ReadFull(msg.Payload, buf); err != nil {
			return err
		}
		switch {
		case s != nil:
			s.onEcho(msg.Code, buf)
		case b.echo:
			// echo: the same code, the same payload (test_protocol.py received()).  A write
			// blocks until go-ethereum has written the frame; the sender's window bounds how
			// many wait.
			if err := rw.WriteMsg(p2p.Msg{Code: msg.Code, Size: uint32(len(buf)), Payload: bytes.NewReader(buf)}); err != nil {
				return err
			}
		}
	}
}

// sender is the counted sender of one peer (test_protocol.py _send_more/_on_echo): count
// messages of size bytes, codes cycling 0..7, at most window un-echoed at a time, echoes
// checked in order; a test_report after each round.
//
// go-ethereum's WriteMsg blocks until the frame is written, and its read loop hands a
// message to the protocol only when the protocol reads, so a sender that wrote and read in
// one goroutine could deadlock with an echoing peer once the window exceeds the socket
// buffers; so a writer goroutine sends, taking a token per message, and run()'s read loop
// checks echoes and returns the tokens.
type sender struct {
	b    *bench
	opts *sendOpts
	rw   p2p.MsgReadWriter
	done chan struct{} // closed when run() returns

	mu         sync.Mutex
	round      int
	expect     int
	mismatches int
	t0         time.Time
	rtts       []float64
	tokens     chan struct{}  // window tokens of the current round
	sentAt     chan time.Time // send times, in order (echoes come back in order)
}

// startRound resets the counters and sends round r (test_protocol.py _new_round).
func (s *sender) startRound(r int) {
	tokens := make(chan struct{}, s.opts.Window)
	for i := 0; i < s.opts.Window; i++ {
		tokens <- struct{}{}
	}
	sentAt := make(chan time.Time, s.opts.Window+1)
	s.mu.Lock()
	s.round, s.expect, s.mismatches, s.rtts = r, 0, 0, nil
	s.tokens, s.sentAt = tokens, sentAt
	s.t0 = time.Now()
	s.mu.Unlock()
	buf := make([]byte, s.opts.Size)
	for seq := 0; seq < s.opts.Count; seq++ {
		select {
		case <-tokens:
		case <-s.done:
			return
		}
		s.payload(seq, buf)
		if s.opts.Rtt {
			sentAt <- time.Now()
		}
		// WriteMsg has copied buf into its frame when it returns, so buf is reused.
		err := s.rw.WriteMsg(p2p.Msg{Code: uint64(seq % testLength), Size: uint32(len(buf)), Payload: bytes.NewReader(buf)})
		if err != nil {
			return // the peer is gone; run() returns too
		}
	}
}

// payload writes message seq into buf: 8-byte big-endian seq, then filler[rot:size-8] +
// filler[:rot] cut to size-8 bytes, rot = seq % 251 (test_protocol.py _payload); below 8
// bytes, the low bytes of seq.
func (s *sender) payload(seq int, buf []byte) {
	var head [8]byte
	binary.BigEndian.PutUint64(head[:], uint64(seq))
	size := len(buf)
	if size < 8 {
		copy(buf, head[8-size:])
		return
	}
	copy(buf, head[:])
	bodyLen := size - 8
	n := copy(buf[8:], s.b.filler[min(seq%251, bodyLen):bodyLen])
	copy(buf[8+n:], s.b.filler[:bodyLen-n])
}

// matches reports whether got is message seq, without building it.
func (s *sender) matches(seq int, got []byte) bool {
	size := s.opts.Size
	if len(got) != size {
		return false
	}
	var head [8]byte
	binary.BigEndian.PutUint64(head[:], uint64(seq))
	if size < 8 {
		return bytes.Equal(got, head[8-size:])
	}
	bodyLen := size - 8
	first := s.b.filler[min(seq%251, bodyLen):bodyLen]
	return bytes.Equal(got[:8], head[:]) && bytes.Equal(got[8:8+len(first)], first) &&
		bytes.Equal(got[8+len(first):], s.b.filler[:bodyLen-len(first)])
}

// onEcho takes one received message as the echo of the next expected one (in order, like
// ejs_bench.mjs; test_protocol.py _on_echo): a wrong code or payload is a mismatch.
func (s *sender) onEcho(code uint64, payload []byte) {
	s.mu.Lock()
	seq := s.expect
	if seq >= s.opts.Count { // more echoes than sent: a mismatch of the round just reported
		s.mismatches++
		s.mu.Unlock()
		return
	}
	if s.opts.Rtt {
		select {
		case t := <-s.sentAt:
			s.rtts = append(s.rtts, float64(time.Since(t).Nanoseconds())/1e6)
		default:
		}
	}
	if code != uint64(seq%testLength) || !s.matches(seq, payload) {
		s.mismatches++
	}
	s.expect++
	finished := s.expect == s.opts.Count
	var rep map[string]any
	if finished {
		secs := time.Since(s.t0).Seconds()
		rep = map[string]any{"event": "test_report", "round": s.round, "count": s.opts.Count, "size": s.opts.Size,
			"elapsed_s": secs, "msgs_per_s": float64(s.opts.Count) / secs,
			"mb_per_s":   float64(s.opts.Count) * float64(s.opts.Size) / secs / 1e6,
			"mismatches": s.mismatches, "duplicates": 0}
		if s.opts.Rtt {
			rep["rtt_ms"] = summary(s.rtts)
		}
	}
	tokens, round := s.tokens, s.round
	s.mu.Unlock()
	if !finished {
		tokens <- struct{}{} // room for one more in the window
		return
	}
	out(rep)
	if round+1 < s.opts.Rounds {
		pause := 200 // ejs_bench.mjs's default pauseMs
		if s.opts.PauseMs != nil {
			pause = *s.opts.PauseMs
		}
		go func() {
			select {
			case <-time.After(time.Duration(pause) * time.Millisecond):
				s.startRound(round + 1)
			case <-s.done:
			}
		}()
	}
}

// -- the dial loop -------------------------------------------------------------------------

// dialBench dials o.Enode o.Count times: each time a TCP connect and go-ethereum's
// Server.SetupConn (what its dialer runs for a static dial: RLPx handshake, Hello, the
// server's checks), timed from before the connect to the peer's test/1 start (the moment
// peer_added is printed, as ejs_bench.mjs times rlpx.connect() -> 'peer:added'); then
// Server.RemovePeer (a Disconnect, requested) and a wait for the drop.  SetupConn bypasses
// the dial scheduler, whose history would refuse a redial of the same node for 35 s.
func (b *bench) dialBench(o dialBenchOpts) error {
	target, err := enode.ParseV4(o.Enode)
	if err != nil {
		return err
	}
	addr, ok := target.TCPEndpoint()
	if !ok {
		return fmt.Errorf("no TCP endpoint in %s", o.Enode)
	}
	id := pubHex(target.Pubkey())
	pause := 100 // ejs_bench.mjs's default pauseMs
	if o.PauseMs != nil {
		pause = *o.PauseMs
	}
	latencies := []float64{}
	for i := 0; i < o.Count; i++ {
		added := make(chan float64, 1)
		b.mu.Lock()
		b.addWaiters[id] = added
		b.mu.Unlock()
		t0 := nowMs()
		fd, err := net.DialTimeout("tcp", addr.String(), 10*time.Second)
		if err != nil {
			return fmt.Errorf("dial %d: %w", i, err)
		}
		setup := make(chan error, 1)
		// flags 2 = go-ethereum's staticDialedConn (p2p/server.go connFlag)
		go func() { setup <- b.srv.SetupConn(fd, 2, target) }()
		select {
		case t1 := <-added:
			latencies = append(latencies, t1-t0)
		case err := <-setup:
			if err != nil {
				return fmt.Errorf("dial %d: %w", i, err)
			}
			select {
			case t1 := <-added:
				latencies = append(latencies, t1-t0)
			case <-time.After(15 * time.Second):
				return fmt.Errorf("dial %d: no peer_added within 15 s", i)
			}
		case <-time.After(15 * time.Second):
			return fmt.Errorf("dial %d timed out", i)
		}
		b.mu.Lock()
		b.disconnects[target.ID()] = true
		b.mu.Unlock()
		removed := make(chan struct{})
		go func() { b.srv.RemovePeer(target); close(removed) }()
		select {
		case <-removed:
		case <-time.After(10 * time.Second):
			return fmt.Errorf("dial %d: removal timed out", i)
		}
		time.Sleep(time.Duration(pause) * time.Millisecond)
	}
	out(map[string]any{"event": "dial_report", "latencies_ms": latencies})
	return nil
}
