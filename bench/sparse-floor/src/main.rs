//! The machine's floor for a device that mostly waits: N keep-alive HTTP/1.1
//! connections to one server, each sending `GET /` and, once the whole
//! response is in, pausing 5–15 s, for ever. One thread, one mio poller, one
//! heap of deadlines: what the kernel (loopback TCP for both ends, epoll,
//! wake-ups) and the least userland a client can have cost per request. No
//! script, no metrics; `bench/sparse.ts` measures this process's CPU from
//! /proc and reads the response count it prints twice a second.
//!
//! Usage: stressgrid-sparse-floor PORT DEVICES RAMPUP_SECONDS

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

struct Device {
    stream: Option<TcpStream>,
    /// Bytes of the response being read.
    input: Vec<u8>,
}

/// The length of the first complete response in `input` (head and
/// Content-Length body), if it is all there.
fn complete_response(input: &[u8]) -> Option<usize> {
    let head_end = input.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&input[..head_end]).ok()?;
    let length = head
        .split("\r\n")
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length").then(|| value.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    (input.len() >= head_end + length).then_some(head_end + length)
}

/// xorshift64: pauses spread uniformly over 5–15 s.
struct Pauses(u64);
impl Pauses {
    fn next(&mut self) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        Duration::from_micros(5_000_000 + self.0 % 10_000_000)
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 4 {
        eprintln!("usage: stressgrid-sparse-floor PORT DEVICES RAMPUP_SECONDS");
        std::process::exit(2);
    }
    let port: u16 = args[1].parse().expect("PORT");
    let count: usize = args[2].parse().expect("DEVICES");
    let rampup: f64 = args[3].parse().expect("RAMPUP_SECONDS");
    let address: SocketAddr = ([127, 0, 0, 1], port).into();

    let mut poll = Poll::new().expect("epoll");
    let mut events = Events::with_capacity(1024);
    let mut devices: Vec<Device> = (0..count).map(|_| Device { stream: None, input: Vec::new() }).collect();
    let start = Instant::now();
    // Each device's first request is its start, spread over the ramp-up.
    let mut due: BinaryHeap<Reverse<(Instant, usize)>> =
        (0..count).map(|i| Reverse((start + Duration::from_secs_f64(rampup * i as f64 / count as f64), i))).collect();
    let mut pauses = Pauses(0x9E37_79B9_7F4A_7C15);
    let mut scratch = vec![0u8; 64 * 1024];
    let mut responses: u64 = 0;
    let mut reported = start;
    let stdout = std::io::stdout();

    loop {
        let now = Instant::now();
        while let Some(&Reverse((at, i))) = due.peek() {
            if at > now {
                break;
            }
            due.pop();
            let device = &mut devices[i];
            if device.stream.is_none() {
                // A blocking connect on loopback takes microseconds; then the socket joins the poller.
                let std_stream = std::net::TcpStream::connect(address).expect("connect");
                std_stream.set_nodelay(true).expect("TCP_NODELAY");
                std_stream.set_nonblocking(true).expect("O_NONBLOCK");
                let mut stream = TcpStream::from_std(std_stream);
                poll.registry().register(&mut stream, Token(i), Interest::READABLE).expect("register");
                device.stream = Some(stream);
            }
            // 36 bytes always fit an idle socket's send buffer.
            let written = device.stream.as_mut().map(|s| s.write(REQUEST));
            assert!(matches!(written, Some(Ok(n)) if n == REQUEST.len()), "short write: {written:?}");
        }
        if now.duration_since(reported) >= Duration::from_millis(500) {
            reported = now;
            let mut out = stdout.lock();
            writeln!(out, "{responses}").and_then(|_| out.flush()).expect("stdout");
        }
        let wait = due
            .peek()
            .map(|Reverse((at, _))| at.saturating_duration_since(Instant::now()))
            .unwrap_or(Duration::from_millis(500))
            .min(Duration::from_millis(500));
        poll.poll(&mut events, Some(wait)).expect("poll");
        for event in events.iter() {
            let i = event.token().0;
            let device = &mut devices[i];
            let Some(stream) = device.stream.as_mut() else { continue };
            loop {
                match stream.read(&mut scratch) {
                    Ok(0) => panic!("the server closed device {i}'s connection"),
                    Ok(n) => device.input.extend_from_slice(&scratch[..n]),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(e) => panic!("device {i}: {e}"),
                }
            }
            while let Some(length) = complete_response(&device.input) {
                device.input.drain(..length);
                responses += 1;
                due.push(Reverse((Instant::now() + pauses.next(), i)));
            }
        }
    }
}
