//! What one turn of the poller hands JavaScript: a flat list of events, four
//! 32-bit integers each, and one byte buffer holding every payload of the turn.
//! A flat array crosses the Node-API boundary as one copy instead of one object
//! per event. The numbers are the contract with `ts/netio/native.ts`: the addon
//! exports them (`constants`, from `EventKind::ALL` and `EVENT_WIDTH`), and
//! test/netio checks native.ts's table against that.

/// Integers per event: `[kind, id, a, b]`.
pub const EVENT_WIDTH: usize = 4;

/// What happened to a connection. The meaning of `a` and `b` depends on the kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
pub enum EventKind {
    /// The connection is usable; `a` = microseconds from `connect` to now.
    Connected = 1,
    /// Connecting failed; `a` = the OS error number.
    ConnectFailed = 2,
    /// A receive completed; the payload is `data[a .. a + b]`.
    Data = 3,
    /// Every queued send has reached the kernel.
    Sent = 4,
    /// The connection broke; `a` = the OS error number, or `engine::PEER_CLOSED` when the peer closed it.
    Failed = 5,
}

impl EventKind {
    /// Every kind, with the name JavaScript knows it by (`EVENT` in ts/netio/native.ts).
    pub const ALL: [(EventKind, &'static str); 5] = [
        (EventKind::Connected, "connected"),
        (EventKind::ConnectFailed, "connectFailed"),
        (EventKind::Data, "data"),
        (EventKind::Sent, "sent"),
        (EventKind::Failed, "failed"),
    ];
}

/// Events and payloads collected during one poll, in order.
#[derive(Default, Debug)]
pub struct Batch {
    /// `EVENT_WIDTH` integers per event: kind, connection id, `a`, `b`.
    pub events: Vec<i32>,
    /// Payloads of the `Data` events, back to back.
    pub data: Vec<u8>,
}

impl Batch {
    /// No event was collected.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// Number of events (not integers).
    pub fn len(&self) -> usize {
        self.events.len() / EVENT_WIDTH
    }

    /// Appends one event.
    pub fn push(&mut self, kind: EventKind, id: u32, a: i32, b: i32) {
        self.events.extend_from_slice(&[kind as i32, id as i32, a, b]);
    }

    /// Empties the batch, keeping its capacity.
    pub fn clear(&mut self) {
        self.events.clear();
        self.data.clear();
    }

    /// The `i`-th event as `(kind, id, a, b)`.
    pub fn get(&self, i: usize) -> (i32, u32, i32, i32) {
        let e = &self.events[i * EVENT_WIDTH..(i + 1) * EVENT_WIDTH];
        (e[0], e[1] as u32, e[2], e[3])
    }
}
