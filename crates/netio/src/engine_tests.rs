//! Tests of the engine alone (no Node) against real loopback sockets: TCP echo, refused,
//! reset, end of stream, a queued send flushed on writable, UDP echo and bounds, and
//! failures that arrive while no receive waits.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::thread;
use std::time::{Duration, Instant};

use crate::engine::{code_of, RecvOutcome, ERR_NOT_CONNECTED, ERR_TOO_LARGE, PEER_CLOSED};
use crate::{Batch, Engine, EventKind, Limits, SendOutcome, Transport};

/// Polls until an event for `id` of `kind` arrives; returns `(a, b)` and the batch.
fn wait_for(engine: &mut Engine, id: u32, kind: EventKind) -> (i32, i32, Batch) {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut batch = Batch::default();
    while Instant::now() < deadline {
        engine.poll(Some(Duration::from_millis(50)), &mut batch).unwrap();
        for i in 0..batch.len() {
            let (k, event_id, a, b) = batch.get(i);
            if event_id == id && k == kind as i32 {
                return (a, b, batch);
            }
        }
        batch.clear();
    }
    panic!("no {kind:?} event for {id} in 5 s");
}

fn echo_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            thread::spawn(move || {
                let mut buf = [0u8; 65536];
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 || stream.write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// SO_LINGER with a zero timeout: closing sends RST instead of FIN.
fn reset_on_close(stream: &std::net::TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger { l_onoff: 1, l_linger: 0 };
    let size = std::mem::size_of::<libc::linger>() as libc::socklen_t;
    // SAFETY: `linger` is a valid `struct linger` of `size` bytes that outlives the call, and the fd
    // is open (the stream is borrowed for the call).
    let r =
        unsafe { libc::setsockopt(stream.as_raw_fd(), libc::SOL_SOCKET, libc::SO_LINGER, (&linger as *const libc::linger).cast(), size) };
    assert_eq!(r, 0);
}

fn connected(engine: &mut Engine, addr: SocketAddr) -> u32 {
    let (id, spent) = engine.connect(Transport::Tcp, addr).unwrap();
    assert_eq!(spent, None);
    let (conn_us, _, _) = wait_for(engine, id, EventKind::Connected);
    assert!(conn_us >= 0);
    id
}

#[test]
fn tcp_echo_counts_bytes_both_ways() {
    let mut engine = Engine::new(Limits::default()).unwrap();
    let id = connected(&mut engine, echo_server());
    assert_eq!(engine.send(id, b"hello").unwrap(), SendOutcome::Done);
    let mut out = Vec::new();
    let got = match engine.recv(id, &mut out).unwrap() {
        RecvOutcome::Data(n) => out[..n].to_vec(),
        RecvOutcome::Waiting => {
            let (at, len, batch) = wait_for(&mut engine, id, EventKind::Data);
            batch.data[at as usize..(at + len) as usize].to_vec()
        }
    };
    assert_eq!(got, b"hello");
    let stats = engine.stats();
    assert_eq!((stats.bytes_sent, stats.bytes_received, stats.open), (5, 5, 1));
    engine.close(id);
    assert_eq!(engine.stats().open, 0);
    assert_eq!(code_of(&engine.send(id, b"x").unwrap_err()), ERR_NOT_CONNECTED);
}

#[test]
fn refused_connect_reports_econnrefused_and_keeps_the_id_until_closed() {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut engine = Engine::new(Limits::default()).unwrap();
    let (id, _) = engine.connect(Transport::Tcp, SocketAddr::from(([127, 0, 0, 1], port))).unwrap();
    let (errno, _, _) = wait_for(&mut engine, id, EventKind::ConnectFailed);
    assert_eq!(errno, libc::ECONNREFUSED);
    assert_eq!(engine.len(), 1);
    engine.close(id);
    assert!(engine.is_empty());
}

#[test]
fn peer_close_and_reset_break_the_waiting_receive() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        let (first, _) = listener.accept().unwrap();
        drop(first); // FIN
        let (mut second, _) = listener.accept().unwrap();
        second.read_exact(&mut [0u8; 1]).unwrap();
        reset_on_close(&second);
        drop(second); // RST
    });
    let mut engine = Engine::new(Limits::default()).unwrap();
    let closed = connected(&mut engine, addr);
    let mut out = Vec::new();
    if engine.recv(closed, &mut out).map_err(|e| code_of(&e)) != Err(PEER_CLOSED) {
        let (code, _, _) = wait_for(&mut engine, closed, EventKind::Failed);
        assert_eq!(code, PEER_CLOSED);
    }
    let reset = connected(&mut engine, addr);
    engine.send(reset, b"x").unwrap();
    server.join().unwrap();
    thread::sleep(Duration::from_millis(50));
    match engine.recv(reset, &mut out) {
        Err(e) => assert_eq!(code_of(&e), libc::ECONNRESET),
        Ok(RecvOutcome::Waiting) => assert_eq!(wait_for(&mut engine, reset, EventKind::Failed).0, libc::ECONNRESET),
        Ok(other) => panic!("unexpected {other:?}"),
    }
    assert_eq!(code_of(&engine.send(reset, b"x").unwrap_err()), libc::ECONNRESET);
}

#[test]
fn a_send_the_kernel_cannot_take_at_once_is_queued_then_flushed() {
    let limits = Limits { max_queued_bytes: 64 << 20, ..Limits::default() };
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let reader = thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        thread::sleep(Duration::from_millis(200));
        let mut total = 0;
        let mut buf = vec![0u8; 1 << 16];
        while total < 32 << 20 {
            total += s.read(&mut buf).unwrap();
        }
        total
    });
    let mut engine = Engine::new(limits).unwrap();
    let id = connected(&mut engine, addr);
    assert_eq!(engine.send(id, &vec![1u8; 32 << 20]).unwrap(), SendOutcome::Queued);
    wait_for(&mut engine, id, EventKind::Sent);
    assert_eq!(reader.join().unwrap(), 32 << 20);
    assert_eq!(engine.stats().bytes_sent, 32 << 20);
}

#[test]
fn a_failed_reregistration_breaks_the_connection_with_its_error() {
    let limits = Limits { max_queued_bytes: 64 << 20, ..Limits::default() };
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // Accepts and never reads, so a large send fills the socket buffers and must queue.
    let holder = thread::spawn(move || listener.accept().unwrap().0);
    let mut engine = Engine::new(limits).unwrap();
    let id = connected(&mut engine, addr);
    let _peer = holder.join().unwrap();
    engine.deregister_behind_its_back(id);
    let error = engine.send(id, &vec![1u8; 32 << 20]).unwrap_err();
    assert_eq!(code_of(&error), libc::ENOENT, "epoll_ctl(MOD) of a socket it does not hold");
    // Broken, not queued: every later call says so, until the owner closes it.
    assert_eq!(code_of(&engine.send(id, b"x").unwrap_err()), libc::ENOENT);
    assert_eq!(code_of(&engine.recv(id, &mut Vec::new()).unwrap_err()), libc::ENOENT);
    engine.close(id);
    assert!(engine.is_empty());
}

#[test]
fn sends_above_the_bound_are_refused_without_breaking_the_connection() {
    let mut engine = Engine::new(Limits { max_queued_bytes: 1000, ..Limits::default() }).unwrap();
    let id = connected(&mut engine, echo_server());
    assert_eq!(code_of(&engine.send(id, &[0u8; 1001]).unwrap_err()), ERR_TOO_LARGE);
    assert_eq!(engine.send(id, b"ok").unwrap(), SendOutcome::Done);
}

#[test]
fn udp_echo_one_datagram_per_receive_and_refused_by_icmp() {
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = server.local_addr().unwrap();
    thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = server.recv_from(&mut buf) {
            let _ = server.send_to(&buf[..n], from);
        }
    });
    let mut engine = Engine::new(Limits::default()).unwrap();
    let (id, spent) = engine.connect(Transport::Udp, addr).unwrap();
    assert!(spent.is_some());
    engine.send(id, b"one").unwrap();
    engine.send(id, b"two").unwrap();
    thread::sleep(Duration::from_millis(50));
    let mut out = Vec::new();
    assert_eq!(engine.recv(id, &mut out).unwrap(), RecvOutcome::Data(3));
    assert_eq!(engine.recv(id, &mut out).unwrap(), RecvOutcome::Data(3));
    assert_eq!(out, b"onetwo");

    let closed = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let (lonely, _) = engine.connect(Transport::Udp, closed).unwrap();
    engine.send(lonely, b"anyone?").unwrap();
    thread::sleep(Duration::from_millis(50));
    let mut out = Vec::new();
    match engine.recv(lonely, &mut out) {
        Err(e) => assert_eq!(code_of(&e), libc::ECONNREFUSED),
        Ok(RecvOutcome::Waiting) => assert_eq!(wait_for(&mut engine, lonely, EventKind::Failed).0, libc::ECONNREFUSED),
        Ok(other) => panic!("unexpected {other:?}"),
    }
}

/// Polls once, waiting up to `timeout` for readiness: what has reached the sockets by
/// then is seen by the engine before the next call, with no receive waiting.
fn settle(engine: &mut Engine, timeout: Duration) {
    let mut batch = Batch::default();
    engine.poll(Some(timeout), &mut batch).unwrap();
    assert!(batch.is_empty(), "nothing was waiting, so nothing should be delivered: {:?}", batch.events);
}

/// Regression: a failure seen while idle broke only the receive that found it; the next
/// send succeeded and the next receive waited forever.
#[test]
fn a_failure_that_comes_while_no_receive_waits_breaks_every_later_call() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut engine = Engine::new(Limits::default()).unwrap();
    let id = connected(&mut engine, addr);
    drop(listener.accept().unwrap().0); // FIN
    settle(&mut engine, Duration::from_millis(200));
    let mut out = Vec::new();
    for _ in 0..2 {
        assert_eq!(engine.recv(id, &mut out).map_err(|e| code_of(&e)), Err(PEER_CLOSED));
        assert_eq!(engine.send(id, b"x").map_err(|e| code_of(&e)), Err(PEER_CLOSED));
    }

    let closed = UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let (lonely, _) = engine.connect(Transport::Udp, closed).unwrap();
    engine.send(lonely, b"anyone?").unwrap(); // ICMP port unreachable
    settle(&mut engine, Duration::from_millis(200));
    for _ in 0..2 {
        assert_eq!(engine.recv(lonely, &mut out).map_err(|e| code_of(&e)), Err(libc::ECONNREFUSED));
        assert_eq!(engine.send(lonely, b"again?").map_err(|e| code_of(&e)), Err(libc::ECONNREFUSED));
    }
    assert!(out.is_empty());
}
