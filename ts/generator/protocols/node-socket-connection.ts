/**
 * TCP/UDP device sockets on node:net and node:dgram: the fallback where netio
 * is not built (or STRESSGRID_NETIO=node asks for it), and the baseline netio
 * is measured against. The bounds are netio's: TCP bytes wait in the socket
 * (paused) until a receive wants them; UDP keeps at most UDP_QUEUE_DATAGRAMS.
 * Bytes are counted where netio counts them, at the kernel: a write's callback
 * (TCP) or a send's (UDP) for what went out, each read for what came in.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, type Socket as TcpSocket } from 'node:net';
import { DeviceError } from '../../shared/errors.js';
import { MAX_QUEUED_BYTES, RECV_BYTES, SocketDeviceConnection, UDP_QUEUE_DATAGRAMS, type WriteResult } from './socket-connection.js';
import { socketError } from './socket-errors.js';

/** Largest UDP payload over IPv4 (65,535 less the IP and UDP headers); the kernel refuses more as netio reports it. */
const MAX_UDP_PAYLOAD = 65_507;

export class NodeSocketConnection extends SocketDeviceConnection {
  private tcp: TcpSocket | undefined;
  private udp: UdpSocket | undefined;
  /** Bytes (TCP) or datagrams (UDP) that came while no receive waited. */
  private held: Buffer[] = [];
  private heldBytes = 0;
  private armed = false;
  private ended: DeviceError | undefined;
  private writing = 0;

  protected open(): void {
    if (this.target.protocol === 'udp') this.openUdp();
    else this.openTcp();
  }

  private openTcp(): void {
    const socket = connect({ host: this.target.ip, port: this.target.port, noDelay: true });
    this.tcp = socket;
    socket.pause();
    let connected = false;
    socket.once('connect', () => {
      connected = true;
      this.opened();
    });
    socket.on('error', (err) => {
      const error = socketError(err, connected ? 'request' : 'connect');
      this.openFailed(error);
      this.ended ??= error;
      this.broke(error);
    });
    socket.on('end', () => {
      this.ended ??= socketError({ code: 'ENOTCONN' }, 'request');
      if (this.armed) this.broke(new DeviceError('closed', `${this.address} closed the connection`));
    });
    socket.on('data', (chunk: Buffer) => {
      if (this.armed && this.held.length === 0) {
        this.armed = false;
        socket.pause();
        this.deliver(chunk);
        return;
      }
      this.held.push(chunk);
      this.heldBytes += chunk.length;
      if (this.heldBytes >= RECV_BYTES) socket.pause();
    });
    socket.on('drain', () => {
      if (this.writing === 0) return;
      this.writing = 0;
      this.flushed();
    });
  }

  private openUdp(): void {
    const socket = createSocket(this.target.ip.includes(':') ? 'udp6' : 'udp4');
    this.udp = socket;
    socket.on('error', this.udpFailed);
    socket.on('message', (datagram: Buffer) => {
      if (this.armed) {
        this.armed = false;
        this.deliver(datagram);
      } else if (this.held.length < UDP_QUEUE_DATAGRAMS) this.held.push(datagram);
    });
    socket.connect(this.target.port, this.target.ip, () => this.opened());
  }

  private readonly udpFailed = (err: Error): void => {
    const error = socketError(err, 'request');
    this.openFailed(error);
    this.broke(error);
  };

  /** A datagram's send callback: with a callback, dgram reports send errors here instead of as 'error'. */
  private readonly udpSent = (err: Error | null, bytes: number): void => {
    if (err) this.udpFailed(err);
    else this.countSentBytes(bytes);
  };

  // Bytes count when a receive takes them, not when node reads them: netio reads
  // only for a waiting receive, so what node holds for a device that never
  // receives again (the end of a run) must not count either, or the engines'
  // byte counts would differ for the same exchanges.
  private deliver(bytes: Buffer): void {
    this.arrived(this.taken(bytes));
  }

  /** What one receive gets of `bytes` (at most RECV_BYTES), counted. */
  private taken(bytes: Buffer): Buffer {
    const out = bytes.length > RECV_BYTES ? bytes.subarray(0, RECV_BYTES) : bytes;
    this.countReceivedBytes(out.length);
    return out;
  }

  protected write(data: Uint8Array): WriteResult {
    if (this.udp) {
      if (data.byteLength > MAX_UDP_PAYLOAD) return socketError({ code: 'EMSGSIZE' }, 'request');
      // dgram copies the datagram before it returns.
      this.udp.send(data, this.udpSent);
      return 'sent';
    }
    const socket = this.tcp!;
    if (this.ended) return this.ended;
    if (socket.writableLength + data.byteLength > MAX_QUEUED_BYTES) return socketError({ code: 'ENOBUFS' }, 'request');
    const bytes = data.byteLength;
    const taken = socket.write(data, (err) => {
      if (!err) this.countSentBytes(bytes);
    });
    if (taken) return 'sent';
    this.writing++;
    return 'queued';
  }

  protected read(): Uint8Array | undefined | DeviceError {
    if (this.held.length > 0) {
      if (this.udp) return this.taken(this.held.shift()!);
      const all = this.held.length === 1 ? this.held[0]! : Buffer.concat(this.held);
      const rest = all.subarray(RECV_BYTES);
      this.held = rest.length > 0 ? [rest] : [];
      this.heldBytes = rest.length;
      return this.taken(all);
    }
    if (this.ended) return this.ended;
    this.armed = true;
    this.tcp?.resume();
    return undefined;
  }

  protected release(): void {
    this.tcp?.destroy();
    this.tcp = undefined;
    if (this.udp) {
      const udp = this.udp;
      this.udp = undefined;
      try {
        udp.close();
      } catch {
        // already closed
      }
    }
  }
}
