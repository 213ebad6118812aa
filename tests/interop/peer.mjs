// An @ethereumjs/devp2p (v10) peer driven by the interop tests.
//
// Usage: node peer.mjs '<json options>'
//   key          hex private key (32 bytes)
//   port         TCP port to listen on (0 = any)
//   dial         enode URL to dial once listening (optional)
//   caps         ["test/1", "eth/68"] capabilities to announce
//   clientId     Hello client id
//   maxPeers     ethereumjs maxPeers
//   echo         test/1: echo every message back (same code, same payload)
//   send         test/1: {count, size, window} - send, await echoes, print a test_report
//   status       eth/68: {networkId, genesisHash, td, bestHash} - sent when the peer connects
//
// Prints one JSON object per line on stdout: listening, peer_added, peer_removed,
// disconnect_received, disconnect_sent, test_report, eth_status, eth_message, error.  Reads commands from stdin, one per line:
//   quit            destroy the RLPx server (sends Disconnect(quitting) to every peer), exit
//   dial <enode>    dial a node
//   disconnect <n>  disconnect every peer with reason code n
//   eth_request <code> <request id hex>   send an eth request (GetBlockHeaders 3, GetBlockBodies 5,
//                   GetPooledTransactions 9, GetReceipts 15) to every peer
import { Common, Mainnet } from '@ethereumjs/common'
import { ETH, Peer, RLPx } from '@ethereumjs/devp2p'
import { hexToBytes } from '@ethereumjs/util'
import * as snappy from 'snappyjs'
import * as readline from 'readline'

const opts = JSON.parse(process.argv[2] ?? '{}')
const out = (obj) => process.stdout.write(JSON.stringify(obj) + '\n')
const hex = (b) => Buffer.from(b).toString('hex')

// ethereumjs emits 'peer:removed' only for peers that completed the Hello exchange, so a
// Disconnect received or sent before that (e.g. a checkpoint rejection) is made visible here.
const origHandleDisconnect = Peer.prototype._handleDisconnect
Peer.prototype._handleDisconnect = function (payload) {
  origHandleDisconnect.call(this, payload)
  out({ event: 'disconnect_received', reason: Number(this._disconnectReason), connected: this._connected === true })
}
const origSendDisconnect = Peer.prototype._sendDisconnect
Peer.prototype._sendDisconnect = function (reason) {
  out({ event: 'disconnect_sent', reason: Number(reason), connected: this._connected === true })
  return origSendDisconnect.call(this, reason)
}

// test/1: 8 message codes, raw payloads (no RLP), snappy when the remote speaks p2p >= 5.
class TestProtocol {
  constructor(version, peer, send) {
    this.version = version
    this.peer = peer
    this._send = send
    this.expect = 0
    this.echoed = 0
    this.mismatches = 0
    this.sent = []
    if (opts.send && opts.send.count > 0) setImmediate(() => this.startSending())
  }
  snappyOn() {
    return this.peer['_hello'] !== null && this.peer['_hello'].protocolVersion >= 5
  }
  send(code, payload) {
    this._send(code, this.snappyOn() ? snappy.compress(payload) : payload)
  }
  payload(seq) {
    const size = opts.send.size
    const buf = Buffer.alloc(size)
    for (let i = 0; i < size; i += 997) buf[i] = (seq + i) & 0xff
    buf.writeUInt32BE(seq >>> 0, 0)
    return new Uint8Array(buf)
  }
  startSending() {
    this.t0 = process.hrtime.bigint()
    this.next = 0
    this.pump()
  }
  pump() {
    const window = opts.send.window ?? 64
    while (this.next < opts.send.count && this.next - this.echoed < window) {
      const p = this.payload(this.next)
      this.sent.push(p)
      this.send(this.next % 8, p)
      this.next++
    }
  }
  _handleMessage(code, data) {
    if (opts.send && opts.send.count > 0) {
      const want = this.sent[this.expect]
      this.sent[this.expect] = undefined
      if (!want || code !== this.expect % 8 || Buffer.compare(Buffer.from(want), Buffer.from(data)) !== 0) this.mismatches++
      this.expect++
      this.echoed++
      if (this.echoed === opts.send.count) {
        const secs = Number(process.hrtime.bigint() - this.t0) / 1e9
        out({ event: 'test_report', count: this.echoed, size: opts.send.size, elapsed_s: secs,
              msgs_per_s: this.echoed / secs, mb_per_s: this.echoed * opts.send.size / secs / 1e6,
              mismatches: this.mismatches })
      } else {
        this.pump()
      }
    } else if (opts.echo) {
      this.send(code, data)
    }
  }
}
const TEST1 = { name: 'test', version: 1, length: 8, constructor: TestProtocol }

const capabilities = (opts.caps ?? ['test/1']).map((c) => {
  if (c === 'test/1') return TEST1
  if (c === 'eth/68') return ETH.eth68
  if (c === 'eth/67') return ETH.eth67
  throw new Error(`unknown capability ${c}`)
})
const common = new Common({ chain: Mainnet })
const privateKey = hexToBytes('0x' + opts.key)
const rlpx = new RLPx(privateKey, {
  maxPeers: opts.maxPeers ?? 25,
  capabilities,
  common,
  clientId: new TextEncoder().encode(opts.clientId ?? 'ethereumjs-interop'),
  listenPort: opts.port ?? 0,
})

rlpx.events.on('peer:added', (peer) => {
  const hello = peer.getHelloMessage()
  const protos = peer['_protocols'].map((p) => ({
    name: p.protocol instanceof TestProtocol ? 'test' : 'eth', offset: p.offset, length: p.length }))
  out({ event: 'peer_added', id: hex(peer.getId()), clientId: hello.clientId, caps: hello.capabilities.map((c) => `${c.name}/${c.version}`),
        protocolVersion: hello.protocolVersion, protocols: protos })
  for (const proto of peer.getProtocols()) {
    if (proto instanceof ETH) {
      proto.events.on('status', (st) => out({ event: 'eth_status', networkId: hex(st.chainId), genesisHash: hex(st.genesisHash),
        td: hex(st.td), forkId: st.forkId ? [hex(st.forkId[0]), hex(st.forkId[1])] : null }))
      proto.events.on('message', (code, payload) => out({ event: 'eth_message', code,
        requestId: Array.isArray(payload) && payload[0] instanceof Uint8Array ? hex(payload[0]) : null,
        items: Array.isArray(payload) && Array.isArray(payload[1]) ? payload[1].length : null }))
      if (opts.status) {
        proto.sendStatus({
          td: hexToBytes('0x' + (opts.status.td ?? '01')),
          bestHash: hexToBytes('0x' + opts.status.bestHash),
          genesisHash: hexToBytes('0x' + opts.status.genesisHash),
        })
      }
    }
  }
})
rlpx.events.on('peer:removed', (peer, reason, disconnectWe) => {
  out({ event: 'peer_removed', id: hex(peer.getId() ?? new Uint8Array()), reason: Number(reason),
        disconnectWe: disconnectWe === true })
})
rlpx.events.on('peer:error', (peer, err) => out({ event: 'error', message: String(err && err.message || err) }))
rlpx.events.on('error', (err) => out({ event: 'error', message: String(err && err.message || err) }))

function parseEnode(url) {
  const m = /^enode:\/\/([0-9a-f]{128})@([^:]+):(\d+)/.exec(url)
  if (!m) throw new Error(`bad enode ${url}`)
  return { id: hexToBytes('0x' + m[1]), address: m[2], tcpPort: Number(m[3]) }
}
function dial(url) {
  rlpx.connect(parseEnode(url)).catch((err) => out({ event: 'error', message: `dial: ${err.message ?? err}` }))
}

rlpx.events.once('listening', () => {
  const port = rlpx['_server'].address().port
  out({ event: 'listening', port, id: hex(rlpx.id), enode: `enode://${hex(rlpx.id)}@127.0.0.1:${port}` })
  if (opts.dial) dial(opts.dial)
})
rlpx.listen(opts.port ?? 0, '127.0.0.1')

const rl = readline.createInterface({ input: process.stdin })
rl.on('line', (line) => {
  const [cmd, arg] = line.trim().split(/\s+/)
  if (cmd === 'quit') {
    rlpx.destroy()
    setTimeout(() => process.exit(0), 500)
  } else if (cmd === 'dial') {
    dial(arg)
  } else if (cmd === 'eth_request') {
    // eth_request <code> <request id hex>: an eth/66+ request with an empty query
    const [, code, rid] = line.trim().split(/\s+/)
    const queries = { 3: [new Uint8Array([1]), new Uint8Array([1]), new Uint8Array(), new Uint8Array()],
                      5: [], 9: [], 15: [] }
    for (const peer of rlpx.getPeers()) {
      for (const proto of peer.getProtocols()) {
        if (proto instanceof ETH) proto.sendMessage(Number(code), [hexToBytes('0x' + rid), queries[Number(code)]])
      }
    }
  } else if (cmd === 'disconnect') {
    for (const peer of rlpx.getPeers()) peer.disconnect(Number(arg))
  }
})
rl.on('close', () => process.exit(0))
