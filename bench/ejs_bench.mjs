// An @ethereumjs/devp2p (v10) instance for the benchmarks (bench/run_all.py).
//
// Uses the packages installed for the interop tests (tests/interop/node_modules) by relative
// import; no npm install of its own.
//
// Usage: node ejs_bench.mjs '<json options>'
//   key          hex private key (32 bytes)
//   port         TCP port to listen on (0 = any), always on 127.0.0.1
//   clientId     Hello client id
//   maxPeers     ethereumjs maxPeers (default 25)
//   noDelay      TCP_NODELAY on every socket, inbound and outbound (default true: ethereumjs
//                writes a frame header and body separately, and with Nagle's algorithm each
//                round trip waits for the delayed ACK, ~40-80 ms)
//   echo         test/1: echo every message back (same code, same payload)
//   send         test/1 sender, started when a peer connects: {count, size, window, rounds,
//                pauseMs, rtt}.  Payload: 8-byte big-endian sequence number, then random bytes
//                (a random filler rotated by seq % 251, like protocols/test_protocol.py).
//                After each round prints a test_report; with rtt, per-message send->echo times.
//   dial         enode URL to dial once listening (optional)
//   dialBench    {enode, count, pauseMs}: dial enode count times in a row, each time from
//                rlpx.connect() to 'peer:added', then destroy the connection and wait for
//                'peer:removed'; prints dial_report {latencies_ms}
//   quietPeers   do not print peer_added/peer_removed per peer (print counts on 'peers')
//
// Prints one JSON object per line: listening, peer_added {id, t}, peer_removed, test_report,
// dial_report, peers {count}, error.  t = wall-clock epoch milliseconds.
// stdin commands: quit | dial <enode> | peers
import { Peer, RLPx } from '../tests/interop/node_modules/@ethereumjs/devp2p/dist/esm/index.js'
import { hexToBytes } from '../tests/interop/node_modules/@ethereumjs/util/dist/esm/index.js'
import * as snappy from '../tests/interop/node_modules/snappyjs/index.js'
import { randomBytes } from 'crypto'
import * as readline from 'readline'

const opts = JSON.parse(process.argv[2] ?? '{}')
const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n')
const hex = (b) => Buffer.from(b).toString('hex')
const nowMs = () => performance.timeOrigin + performance.now()

if (opts.noDelay !== false) {
  const origOnConnect = RLPx.prototype._onConnect
  RLPx.prototype._onConnect = function (socket, peerId) {
    socket.setNoDelay(true)
    return origOnConnect.call(this, socket, peerId)
  }
}

function summary(xs) {
  if (xs.length === 0) return { count: 0 }
  const s = Float64Array.from(xs).sort()
  const n = s.length
  const median = n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2
  const p99 = s[Math.min(n - 1, Math.max(0, Math.ceil(0.99 * n) - 1))]
  return { count: n, min: s[0], median, p99, max: s[n - 1], mean: xs.reduce((a, b) => a + b, 0) / n }
}

const send = opts.send ?? null
const filler = send ? randomBytes(Math.max(send.size, 8)) : null

class TestProtocol {
  constructor(version, peer, sendFn) {
    this.version = version
    this.peer = peer
    this._send = sendFn
    if (send && send.count > 0) {
      this.round = 0
      setImmediate(() => this.startRound())
    }
  }
  snappyOn() {
    return this.peer['_hello'] !== null && this.peer['_hello'].protocolVersion >= 5
  }
  send(code, payload) {
    this._send(code, this.snappyOn() ? snappy.compress(payload) : payload)
  }
  payload(seq) {
    const size = send.size
    const buf = Buffer.allocUnsafe(size)
    if (size < 8) {
      const full = Buffer.alloc(8)
      full.writeBigUInt64BE(BigInt(seq))
      full.copy(buf, 0, 8 - size)
      return buf
    }
    buf.writeBigUInt64BE(BigInt(seq), 0)
    const rot = seq % 251
    const bodyLen = size - 8
    // body = filler[rot:size-8] + filler[:rot], truncated to size-8 bytes
    const first = filler.copy(buf, 8, Math.min(rot, bodyLen), bodyLen)
    if (first < bodyLen) filler.copy(buf, 8 + first, 0, bodyLen - first)
    return buf
  }
  startRound() {
    if (this.peer['_closed']) return
    this.next = 0
    this.expect = 0
    this.mismatches = 0
    this.sent = new Map()
    this.sentAt = new Map()
    this.rtts = []
    this.t0 = process.hrtime.bigint()
    this.pump()
  }
  pump() {
    const window = send.window ?? 64
    while (this.next < send.count && this.next - this.expect < window) {
      const p = this.payload(this.next)
      this.sent.set(this.next, p)
      if (send.rtt) this.sentAt.set(this.next, process.hrtime.bigint())
      this.send(this.next % 8, p)
      this.next++
    }
  }
  _handleMessage(code, data) {
    if (send && send.count > 0) {
      const seq = this.expect
      if (send.rtt) {
        const t = this.sentAt.get(seq)
        if (t !== undefined) {
          this.rtts.push(Number(process.hrtime.bigint() - t) / 1e6)
          this.sentAt.delete(seq)
        }
      }
      const want = this.sent.get(seq)
      this.sent.delete(seq)
      if (!want || code !== seq % 8 || Buffer.compare(want, Buffer.from(data.buffer, data.byteOffset, data.byteLength)) !== 0) {
        this.mismatches++
      }
      this.expect++
      if (this.expect === send.count) {
        const secs = Number(process.hrtime.bigint() - this.t0) / 1e9
        const rep = { event: 'test_report', round: this.round, count: send.count, size: send.size, elapsed_s: secs,
          msgs_per_s: send.count / secs, mb_per_s: send.count * send.size / secs / 1e6,
          mismatches: this.mismatches + this.sent.size }
        if (send.rtt) rep.rtt_ms = summary(this.rtts)
        out(rep)
        this.round++
        if (this.round < (send.rounds ?? 1)) setTimeout(() => this.startRound(), send.pauseMs ?? 200)
      } else {
        this.pump()
      }
    } else if (opts.echo !== false) {
      // echo the payload as received (decompressed by Peer), recompressed by send()
      this.send(code, data)
    }
  }
}
const TEST1 = { name: 'test', version: 1, length: 8, constructor: TestProtocol }

const privateKey = hexToBytes('0x' + opts.key)
const rlpx = new RLPx(privateKey, {
  maxPeers: opts.maxPeers ?? 25,
  capabilities: [TEST1],
  clientId: new TextEncoder().encode(opts.clientId ?? 'ethereumjs-bench'),
  listenPort: opts.port ?? 0,
})

const waiters = new Map() // peer id hex -> resolve on peer:added
const removedWaiters = new Map()
rlpx.events.on('peer:added', (peer) => {
  const id = hex(peer.getId())
  const t = nowMs()
  if (!opts.quietPeers) out({ event: 'peer_added', id, t })
  const w = waiters.get(id)
  if (w) { waiters.delete(id); w(peer, t) }
})
rlpx.events.on('peer:removed', (peer, reason, disconnectWe) => {
  const id = hex(peer.getId() ?? new Uint8Array())
  if (!opts.quietPeers) out({ event: 'peer_removed', id, reason: Number(reason), disconnectWe: disconnectWe === true, t: nowMs() })
  const w = removedWaiters.get(id)
  if (w) { removedWaiters.delete(id); w() }
})
rlpx.events.on('peer:error', (peer, err) => out({ event: 'error', message: String(err && err.message || err) }))
rlpx.events.on('error', (err) => out({ event: 'error', message: String(err && err.message || err) }))

function parseEnode(url) {
  const m = /^enode:\/\/([0-9a-f]{128})@([^:]+):(\d+)/.exec(url)
  if (!m) throw new Error(`bad enode ${url}`)
  return { id: hexToBytes('0x' + m[1]), address: m[2], tcpPort: Number(m[3]), idHex: m[1] }
}
function dial(url) {
  rlpx.connect(parseEnode(url)).catch((err) => out({ event: 'error', message: `dial: ${err.message ?? err}` }))
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const withTimeout = (p, ms, what) => Promise.race([p, sleep(ms).then(() => { throw new Error(`${what} timed out`) })])

async function dialBench({ enode, count, pauseMs }) {
  const target = parseEnode(enode)
  const latencies = []
  for (let i = 0; i < count; i++) {
    const added = new Promise((resolve) => waiters.set(target.idHex, (peer, t) => resolve([peer, t])))
    const t0 = nowMs()
    rlpx.connect(target).catch((err) => out({ event: 'error', message: `dial: ${err.message ?? err}` }))
    const [peer, t1] = await withTimeout(added, 15000, 'dial')
    latencies.push(t1 - t0)
    const removed = new Promise((resolve) => removedWaiters.set(target.idHex, resolve))
    peer['_socket'].destroy()
    await withTimeout(removed, 10000, 'removal')
    await sleep(pauseMs ?? 100)
  }
  out({ event: 'dial_report', latencies_ms: latencies })
}

rlpx.events.once('listening', () => {
  const port = rlpx['_server'].address().port
  out({ event: 'listening', port, id: hex(rlpx.id) })
  if (opts.dial) dial(opts.dial)
  if (opts.dialBench) dialBench(opts.dialBench).catch((err) => out({ event: 'error', message: `dialBench: ${err.message ?? err}` }))
})
rlpx.listen(opts.port ?? 0, '127.0.0.1')

const rl = readline.createInterface({ input: process.stdin })
rl.on('line', (line) => {
  const [cmd, arg] = line.trim().split(/\s+/)
  if (cmd === 'quit') {
    rlpx.destroy()
    setTimeout(() => process.exit(0), 300)
  } else if (cmd === 'dial') {
    dial(arg)
  } else if (cmd === 'peers') {
    out({ event: 'peers', count: rlpx.getPeers().length })
  }
})
rl.on('close', () => process.exit(0))
