//! One poller and the sockets it drives: nonblocking TCP connect, send,
//! receive and close, and connected UDP sockets, all edge-triggered under one
//! mio `Poll` (epoll on Linux, kqueue on macOS).
//!
//! The engine never reads ahead of the script: a socket is read only when a
//! receive is waiting on it, so a flooding peer fills the kernel's receive
//! buffer and is then held back by TCP flow control (for UDP the kernel drops
//! what does not fit), and an idle device holds no buffer of ours at all. Sends
//! go straight to the kernel; only what the kernel does not take at once is
//! queued here, up to `Limits::max_queued_bytes` per connection.
//!
//! Only `close` removes a connection: a failure marks it broken and keeps its
//! id taken until the owner closes it, so an id never names two connections
//! while the owner may still hold the old one.

use std::collections::VecDeque;
use std::io::{self, ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::{TcpStream, UdpSocket};
use mio::{Events, Interest, Poll, Token};
use slab::Slab;

use crate::batch::{Batch, EventKind};

/// `ENOTCONN`: the id names no open connection (closed, or never opened).
pub const ERR_NOT_CONNECTED: i32 = libc::ENOTCONN;
/// `EMSGSIZE`: one send larger than `Limits::max_queued_bytes`.
pub const ERR_TOO_LARGE: i32 = libc::EMSGSIZE;
/// `ENOBUFS`: the send queue of the connection is full.
pub const ERR_QUEUE_FULL: i32 = libc::ENOBUFS;
/// The peer closed the connection (end of stream), reported where an errno would be;
/// above every errno, so it names nothing else.
pub const PEER_CLOSED: i32 = 0x10000;

/// Bounds that keep a misbehaving script or peer from growing memory without end.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Most bytes one receive returns (TCP: what has arrived, up to this; UDP: one datagram, cut to this).
    pub recv_bytes: usize,
    /// Most bytes queued per connection that the kernel has not taken yet; a single send may not exceed it.
    pub max_queued_bytes: usize,
    /// Readiness events taken from the poller per poll.
    pub events_per_poll: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { recv_bytes: 64 * 1024, max_queued_bytes: 1024 * 1024, events_per_poll: 1024 }
    }
}

/// What `Engine::connect` opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Tcp,
    Udp,
}

impl Transport {
    /// Every transport, with the number and name JavaScript passes it by (`TRANSPORT` in ts/netio/native.ts).
    pub const ALL: [(Transport, i32, &'static str); 2] = [(Transport::Tcp, 0, "tcp"), (Transport::Udp, 1, "udp")];

    /// The transport JavaScript's number names.
    pub fn from_code(code: i32) -> Option<Transport> {
        Transport::ALL.iter().find(|(_, n, _)| *n == code).map(|(t, _, _)| *t)
    }
}

/// How a send went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendOutcome {
    /// The kernel took every byte.
    Done,
    /// Some bytes wait in the connection's queue; an `EventKind::Sent` follows when they are out.
    Queued,
}

/// How a receive went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecvOutcome {
    /// This many bytes were appended to the caller's buffer.
    Data(usize),
    /// Nothing has arrived; an `EventKind::Data` (or `Failed`) follows.
    Waiting,
}

/// Totals since the engine started, counted where the bytes cross the kernel boundary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Bytes the kernel took from our sends.
    pub bytes_sent: u64,
    /// Bytes read from the kernel (TCP streams and UDP payloads).
    pub bytes_received: u64,
    /// Connections (and UDP sockets) opened since the engine started.
    pub connections_opened: u64,
    /// Connections not yet closed by their owner.
    pub open: u64,
}

enum Socket {
    Tcp { stream: TcpStream, queue: Vec<u8>, sent: usize },
    Udp { socket: UdpSocket, queue: VecDeque<Vec<u8>>, queued: usize },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Connecting,
    Open,
    /// Failed with this errno (or `PEER_CLOSED`); every later operation reports it.
    Broken(i32),
}

struct Conn {
    socket: Socket,
    state: State,
    started: Instant,
    /// The kernel may hold unread bytes (set by a readiness edge, cleared by a short read).
    readable: bool,
    /// A receive waits for data.
    want_read: bool,
}

/// One poller and its connections; one per thread, driven by whoever calls `poll`.
pub struct Engine {
    poll: Poll,
    events: Events,
    conns: Slab<Conn>,
    limits: Limits,
    stats: Stats,
    /// Where reads land before their bytes are appended to the caller's buffer:
    /// zeroed once, so a read never pays for clearing `recv_bytes` of memory.
    scratch: Box<[u8]>,
}

/// The number an error is reported by: its errno, `PEER_CLOSED` for end of stream.
pub fn code_of(e: &io::Error) -> i32 {
    match e.raw_os_error() {
        Some(n) => n,
        None if e.kind() == ErrorKind::UnexpectedEof => PEER_CLOSED,
        None => libc::EIO,
    }
}

fn errno(e: &io::Error) -> i32 {
    code_of(e)
}

fn not_connected() -> io::Error {
    io::Error::from_raw_os_error(ERR_NOT_CONNECTED)
}

impl Engine {
    /// A new poller; fails only when the OS refuses one (out of descriptors).
    pub fn new(limits: Limits) -> io::Result<Self> {
        Ok(Engine {
            poll: Poll::new()?,
            events: Events::with_capacity(limits.events_per_poll.max(1)),
            conns: Slab::new(),
            limits,
            stats: Stats::default(),
            scratch: vec![0u8; limits.recv_bytes.max(1)].into_boxed_slice(),
        })
    }

    /// The bounds this engine was made with.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Totals since the engine started.
    pub fn stats(&self) -> Stats {
        Stats { open: self.conns.len() as u64, ..self.stats }
    }

    /// Connections not yet closed by their owner (broken ones included).
    pub fn len(&self) -> usize {
        self.conns.len()
    }

    /// No connection is open.
    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    /// The poller's own descriptor: readable whenever a poll would return events.
    #[cfg(unix)]
    pub fn raw_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        self.poll.as_raw_fd()
    }

    /// Opens a connection. TCP connects in the background (`Connected` or
    /// `ConnectFailed` follows) and returns `(id, None)`; UDP is connected at once
    /// and returns `(id, Some(microseconds spent))`.
    pub fn connect(&mut self, transport: Transport, addr: SocketAddr) -> io::Result<(u32, Option<u32>)> {
        let started = Instant::now();
        let entry = self.conns.vacant_entry();
        let token = Token(entry.key());
        let (socket, state) = match transport {
            Transport::Tcp => {
                let mut stream = TcpStream::connect(addr)?;
                self.poll.registry().register(&mut stream, token, Interest::READABLE | Interest::WRITABLE)?;
                (Socket::Tcp { stream, queue: Vec::new(), sent: 0 }, State::Connecting)
            }
            Transport::Udp => {
                let local: SocketAddr = if addr.is_ipv4() { "0.0.0.0:0".parse().unwrap() } else { "[::]:0".parse().unwrap() };
                let mut socket = UdpSocket::bind(local)?;
                socket.connect(addr)?;
                self.poll.registry().register(&mut socket, token, Interest::READABLE)?;
                (Socket::Udp { socket, queue: VecDeque::new(), queued: 0 }, State::Open)
            }
        };
        let id = entry.key() as u32;
        entry.insert(Conn { socket, state, started, readable: false, want_read: false });
        self.stats.connections_opened += 1;
        let spent = (state == State::Open).then(|| micros(started.elapsed()));
        Ok((id, spent))
    }

    /// Sends `data` whole: what the kernel does not take now is queued.
    pub fn send(&mut self, id: u32, data: &[u8]) -> io::Result<SendOutcome> {
        let max = self.limits.max_queued_bytes;
        let conn = self.conns.get_mut(id as usize).ok_or_else(not_connected)?;
        match conn.state {
            State::Open => {}
            State::Connecting => return Err(not_connected()),
            State::Broken(e) => return Err(broken(e)),
        }
        if data.len() > max {
            return Err(io::Error::from_raw_os_error(ERR_TOO_LARGE));
        }
        let result = match &mut conn.socket {
            Socket::Tcp { stream, queue, sent } => {
                if queue.len() - *sent + data.len() > max {
                    return Err(io::Error::from_raw_os_error(ERR_QUEUE_FULL));
                }
                if !queue.is_empty() {
                    queue.extend_from_slice(data);
                    return Ok(SendOutcome::Queued);
                }
                let mut written = 0;
                let result = match write_from(stream, data, &mut written) {
                    Ok(true) => Ok(SendOutcome::Done),
                    Ok(false) => {
                        queue.extend_from_slice(&data[written..]);
                        let registry = self.poll.registry();
                        registry
                            .reregister(stream, Token(id as usize), Interest::READABLE | Interest::WRITABLE)
                            .map(|()| SendOutcome::Queued)
                    }
                    Err(e) => Err(e),
                };
                self.stats.bytes_sent += written as u64;
                result
            }
            Socket::Udp { socket, queue, queued } => {
                if *queued + data.len() > max {
                    return Err(io::Error::from_raw_os_error(ERR_QUEUE_FULL));
                }
                if !queue.is_empty() {
                    *queued += data.len();
                    queue.push_back(data.to_vec());
                    return Ok(SendOutcome::Queued);
                }
                match socket.send(data) {
                    Ok(n) => {
                        self.stats.bytes_sent += n as u64;
                        Ok(SendOutcome::Done)
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        *queued += data.len();
                        queue.push_back(data.to_vec());
                        let registry = self.poll.registry();
                        registry
                            .reregister(socket, Token(id as usize), Interest::READABLE | Interest::WRITABLE)
                            .map(|()| SendOutcome::Queued)
                    }
                    // A datagram the kernel refuses outright (too large) breaks nothing.
                    Err(e) if e.raw_os_error() == Some(ERR_TOO_LARGE) => return Err(e),
                    Err(e) => Err(e),
                }
            }
        };
        if let Err(e) = &result {
            conn.state = State::Broken(errno(e));
        }
        result
    }

    /// Receives what has arrived (TCP, up to `Limits::recv_bytes`) or one
    /// datagram (UDP), appending it to `out`; else arms the connection so the
    /// next poll delivers it.
    pub fn recv(&mut self, id: u32, out: &mut Vec<u8>) -> io::Result<RecvOutcome> {
        let conn = self.conns.get_mut(id as usize).ok_or_else(not_connected)?;
        match conn.state {
            State::Open => {}
            State::Connecting => return Err(not_connected()),
            State::Broken(e) => return Err(broken(e)),
        }
        if conn.readable || matches!(conn.socket, Socket::Udp { .. }) {
            match read_into(conn, &mut self.scratch, out, &mut self.stats) {
                Ok(Some(n)) => return Ok(RecvOutcome::Data(n)),
                Ok(None) => {}
                // A failure that came while no receive waited (a FIN, an ICMP error) breaks the
                // connection as one that came during a wait does: every later call reports it.
                Err(e) => {
                    conn.state = State::Broken(errno(&e));
                    return Err(e);
                }
            }
        }
        conn.want_read = true;
        Ok(RecvOutcome::Waiting)
    }

    /// Closes and forgets the connection; unknown ids are ignored.
    pub fn close(&mut self, id: u32) {
        if !self.conns.contains(id as usize) {
            return;
        }
        let mut conn = self.conns.remove(id as usize);
        let registry = self.poll.registry();
        // Deregistering first keeps a stale readiness event from reaching a reused id.
        let _ = match &mut conn.socket {
            Socket::Tcp { stream, .. } => registry.deregister(stream),
            Socket::Udp { socket, .. } => registry.deregister(socket),
        };
    }

    /// Takes the connection's socket out of the poller while the engine still counts
    /// it in: its next re-registration fails, as one does when the kernel refuses it.
    #[cfg(test)]
    pub(crate) fn deregister_behind_its_back(&mut self, id: u32) {
        let conn = &mut self.conns[id as usize];
        match &mut conn.socket {
            Socket::Tcp { stream, .. } => self.poll.registry().deregister(stream).unwrap(),
            Socket::Udp { socket, .. } => self.poll.registry().deregister(socket).unwrap(),
        }
    }

    /// Waits up to `timeout` (None: forever, zero: not at all) and appends what
    /// happened to `batch`.
    pub fn poll(&mut self, timeout: Option<Duration>, batch: &mut Batch) -> io::Result<()> {
        if let Err(e) = self.poll.poll(&mut self.events, timeout) {
            if e.kind() != ErrorKind::Interrupted {
                return Err(e);
            }
        }
        for event in self.events.iter() {
            let id = event.token().0;
            let Some(conn) = self.conns.get_mut(id) else { continue };
            let id = id as u32;
            if conn.state == State::Connecting {
                match connect_result(conn) {
                    None => continue,
                    Some(Ok(())) => {
                        // Writable edges come with every ACK that frees send buffer; wanted only while a queue waits.
                        if let Err(e) = interest(&self.poll, conn, id, false) {
                            let code = errno(&e);
                            conn.state = State::Broken(code);
                            batch.push(EventKind::ConnectFailed, id, code, 0);
                            continue;
                        }
                        conn.state = State::Open;
                        batch.push(EventKind::Connected, id, micros(conn.started.elapsed()) as i32, 0);
                    }
                    Some(Err(e)) => {
                        conn.state = State::Broken(e);
                        batch.push(EventKind::ConnectFailed, id, e, 0);
                        continue;
                    }
                }
            }
            if let State::Broken(_) = conn.state {
                continue;
            }
            if event.is_readable() || event.is_read_closed() || event.is_error() {
                conn.readable = true;
            }
            if conn.want_read && (conn.readable || matches!(conn.socket, Socket::Udp { .. })) {
                let start = batch.data.len();
                match read_into(conn, &mut self.scratch, &mut batch.data, &mut self.stats) {
                    Ok(Some(n)) => {
                        conn.want_read = false;
                        batch.push(EventKind::Data, id, start as i32, n as i32);
                    }
                    Ok(None) => {}
                    Err(e) => {
                        conn.want_read = false;
                        let code = errno(&e);
                        conn.state = State::Broken(code);
                        batch.push(EventKind::Failed, id, code, 0);
                        continue;
                    }
                }
            }
            if event.is_writable() || event.is_error() || event.is_write_closed() {
                match flush(conn, &mut self.stats).and_then(|emptied| {
                    if emptied {
                        interest(&self.poll, conn, id, false)?;
                    }
                    Ok(emptied)
                }) {
                    Ok(true) => batch.push(EventKind::Sent, id, 0, 0),
                    Ok(false) => {}
                    Err(e) => {
                        let code = errno(&e);
                        conn.state = State::Broken(code);
                        batch.push(EventKind::Failed, id, code, 0);
                    }
                }
            }
        }
        Ok(())
    }
}

/// Registers for readable edges, and writable ones too while `writable`.
fn interest(poll: &Poll, conn: &mut Conn, id: u32, writable: bool) -> io::Result<()> {
    let wanted = if writable { Interest::READABLE | Interest::WRITABLE } else { Interest::READABLE };
    let token = Token(id as usize);
    match &mut conn.socket {
        Socket::Tcp { stream, .. } => poll.registry().reregister(stream, token, wanted),
        Socket::Udp { socket, .. } => poll.registry().reregister(socket, token, wanted),
    }
}

fn broken(code: i32) -> io::Error {
    if code == PEER_CLOSED {
        io::Error::new(ErrorKind::UnexpectedEof, "the peer closed the connection")
    } else {
        io::Error::from_raw_os_error(code)
    }
}

fn micros(d: Duration) -> u32 {
    u32::try_from(d.as_micros()).unwrap_or(u32::MAX).min(i32::MAX as u32)
}

/// `Some(Ok)` once connected, `Some(Err(errno))` once failed, `None` while still connecting.
fn connect_result(conn: &mut Conn) -> Option<Result<(), i32>> {
    let Socket::Tcp { stream, .. } = &mut conn.socket else { return Some(Ok(())) };
    match stream.take_error() {
        Ok(Some(e)) | Err(e) => return Some(Err(errno(&e))),
        Ok(None) => {}
    }
    match stream.peer_addr() {
        Ok(_) => {
            let _ = stream.set_nodelay(true);
            Some(Ok(()))
        }
        Err(e) if e.kind() == ErrorKind::NotConnected || e.raw_os_error() == Some(ERR_NOT_CONNECTED) => None,
        Err(e) => Some(Err(errno(&e))),
    }
}

/// One read of up to `scratch.len()` bytes, appended to `out`. `Ok(None)`:
/// nothing there. End of stream is an error carrying `PEER_CLOSED`.
fn read_into(conn: &mut Conn, scratch: &mut [u8], out: &mut Vec<u8>, stats: &mut Stats) -> io::Result<Option<usize>> {
    let limit = scratch.len();
    let result = loop {
        let r = match &mut conn.socket {
            Socket::Tcp { stream, .. } => stream.read(scratch),
            Socket::Udp { socket, .. } => socket.recv(scratch),
        };
        match r {
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            other => break other,
        }
    };
    let is_tcp = matches!(conn.socket, Socket::Tcp { .. });
    match result {
        Ok(0) if is_tcp => {
            conn.readable = false;
            Err(broken(PEER_CLOSED))
        }
        Ok(n) => {
            out.extend_from_slice(&scratch[..n]);
            stats.bytes_received += n as u64;
            // A short TCP read drained the socket; the next arrival raises a new edge.
            // A datagram says nothing about the ones behind it.
            conn.readable = !is_tcp || n == limit;
            Ok(Some(n))
        }
        Err(e) if e.kind() == ErrorKind::WouldBlock => {
            conn.readable = false;
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Writes `buf[*pos..]` while the writer takes it, advancing `*pos` by what it took:
/// `Ok(true)` when all of it is written, `Ok(false)` when the writer would block.
/// A write that takes nothing of a non-empty buffer is no progress but a failure
/// (`WriteZero`): retried, it would spin.
fn write_from(w: &mut impl Write, buf: &[u8], pos: &mut usize) -> io::Result<bool> {
    while *pos < buf.len() {
        match w.write(&buf[*pos..]) {
            Ok(0) => return Err(io::Error::new(ErrorKind::WriteZero, "the socket took no bytes")),
            Ok(n) => *pos += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Writes queued bytes; `Ok(true)` when this emptied a non-empty queue.
fn flush(conn: &mut Conn, stats: &mut Stats) -> io::Result<bool> {
    match &mut conn.socket {
        Socket::Tcp { stream, queue, sent } => {
            if queue.is_empty() {
                return Ok(false);
            }
            let before = *sent;
            let result = write_from(stream, queue, sent);
            stats.bytes_sent += (*sent - before) as u64;
            if !result? {
                return Ok(false);
            }
            *queue = Vec::new();
            *sent = 0;
            Ok(true)
        }
        Socket::Udp { socket, queue, queued } => {
            if queue.is_empty() {
                return Ok(false);
            }
            while let Some(datagram) = queue.front() {
                match socket.send(datagram) {
                    Ok(n) => {
                        stats.bytes_sent += n as u64;
                        *queued -= datagram.len();
                        queue.pop_front();
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            *queue = VecDeque::new();
            Ok(true)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{self, ErrorKind, Write};

    use super::write_from;

    /// Takes up to `take` bytes per write, from a budget of `room`, then would block.
    struct Writer {
        take: usize,
        room: usize,
        interrupt_first: bool,
        taken: Vec<u8>,
    }

    impl Write for Writer {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if std::mem::take(&mut self.interrupt_first) {
                return Err(ErrorKind::Interrupted.into());
            }
            if self.room == 0 {
                return Err(ErrorKind::WouldBlock.into());
            }
            let n = buf.len().min(self.take).min(self.room);
            self.room -= n;
            self.taken.extend_from_slice(&buf[..n]);
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn short_writes_continue_until_all_is_written_and_interruptions_are_retried() {
        let mut w = Writer { take: 3, room: 100, interrupt_first: true, taken: Vec::new() };
        let mut pos = 0;
        assert!(write_from(&mut w, b"hello, world", &mut pos).unwrap());
        assert_eq!((pos, &w.taken[..]), (12, &b"hello, world"[..]));
    }

    #[test]
    fn a_writer_that_would_block_leaves_the_position_after_what_it_took() {
        let mut w = Writer { take: 4, room: 6, interrupt_first: false, taken: Vec::new() };
        let mut pos = 2;
        assert!(!write_from(&mut w, b"..abcdefgh", &mut pos).unwrap());
        assert_eq!((pos, &w.taken[..]), (8, &b"abcdef"[..]));
    }

    #[test]
    fn a_write_that_takes_nothing_is_a_failure_not_progress() {
        // Not WouldBlock: the writer says it took zero bytes of a non-empty buffer.
        struct Zero(usize);
        impl Write for Zero {
            fn write(&mut self, _buf: &[u8]) -> io::Result<usize> {
                self.0 += 1;
                Ok(0)
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut w = Zero(0);
        let mut pos = 0;
        let error = write_from(&mut w, b"data", &mut pos).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::WriteZero);
        assert_eq!((pos, w.0), (0, 1), "one write, not a spin");
        assert_eq!(super::code_of(&error), libc::EIO);
    }

    #[test]
    fn nothing_to_write_is_done_without_a_write() {
        let mut w = Writer { take: 1, room: 0, interrupt_first: false, taken: Vec::new() };
        let mut pos = 4;
        assert!(write_from(&mut w, b"done", &mut pos).unwrap());
    }
}
