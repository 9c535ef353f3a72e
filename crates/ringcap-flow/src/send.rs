//! Export messages leave in batches: the exporter thread builds messages as records come and
//! hands each collector a batch in one `sendmmsg` (one system call per batch, not per
//! message), when the batch is full or the queue from the workers is empty (so a message
//! waits no longer than it did when each was sent on its own).

use std::io;
use std::net::UdpSocket;
use std::os::fd::AsFd;

/// Messages per batch.
pub(crate) const BATCH: usize = 16;

/// One collector's socket and its account.
pub(crate) struct Conn {
    pub name: String,
    pub sock: UdpSocket,
    pub sent: u64,
    pub failed: u64,
    pub failed_records: u64,
    /// Records in the last message sent, which a refusal reported later most likely concerns.
    pub last_records: u64,
    pub last_error: Option<String>,
}

impl Conn {
    /// A collector's connected socket, nothing sent yet.
    pub fn new(name: String, sock: UdpSocket) -> Conn {
        Conn {
            name,
            sock,
            sent: 0,
            failed: 0,
            failed_records: 0,
            last_records: 0,
            last_error: None,
        }
    }
}

/// Finished messages not yet handed to the kernel, with the records each holds.
pub(crate) struct Batch {
    bufs: Vec<Vec<u8>>,
    records: [u64; BATCH],
    len: usize,
}

impl Batch {
    pub fn new(max_message: usize) -> Batch {
        Batch {
            bufs: (0..BATCH)
                .map(|_| Vec::with_capacity(max_message))
                .collect(),
            records: [0; BATCH],
            len: 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Keeps a copy of `msg` (holding `records` flow records); true when the batch is full.
    pub fn push(&mut self, msg: &[u8], records: u64) -> bool {
        let b = &mut self.bufs[self.len];
        b.clear();
        b.extend_from_slice(msg);
        self.records[self.len] = records;
        self.len += 1;
        self.len == BATCH
    }

    /// Sends every message to every collector and empties the batch.
    pub fn transmit(&mut self, conns: &mut [Conn]) {
        let n = self.len;
        let mut refs: [&[u8]; BATCH] = [&[]; BATCH];
        for (r, b) in refs.iter_mut().zip(&self.bufs[..n]) {
            *r = b;
        }
        for c in conns.iter_mut() {
            send_all(c, &refs[..n], &self.records[..n]);
        }
        self.len = 0;
    }
}

/// Sends `msgs` to one collector, as many per call as the kernel takes, and accounts for each.
fn send_all(c: &mut Conn, msgs: &[&[u8]], records: &[u64]) {
    let mut i = 0;
    // Whether message i is being sent again after a refusal that concerned an earlier one.
    let mut again = false;
    while i < msgs.len() {
        match ringcap_sys::sendmmsg(c.sock.as_fd(), &msgs[i..]) {
            Ok(k) if k > 0 => {
                c.sent += k as u64;
                i += k;
                c.last_records = records[i - 1];
                again = false;
            }
            Ok(_) => {
                fail(c, records[i], "the kernel took none of the messages".into());
                i += 1;
                again = false;
            }
            Err(e) => {
                let e = e.source;
                // An ICMP refusal of an earlier message waits on the socket and fails this
                // send instead (the kernel hands it over and drops nothing more): count it
                // against the message sent last and send this one again. Asking for it
                // before every send would be a system call per message.
                if e.kind() == io::ErrorKind::ConnectionRefused && !again {
                    c.sent = c.sent.saturating_sub(1);
                    c.failed += 1;
                    c.failed_records += c.last_records;
                    c.last_error = Some(e.to_string());
                    again = true;
                    continue;
                }
                fail(c, records[i], e.to_string());
                i += 1;
                again = false;
            }
        }
    }
}

fn fail(c: &mut Conn, records: u64, why: String) {
    c.failed += 1;
    c.failed_records += records;
    c.last_records = records;
    c.last_error = Some(why);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn(to: std::net::SocketAddr) -> Conn {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.connect(to).unwrap();
        Conn::new(to.to_string(), sock)
    }

    /// A batch reaches a real socket whole and in order, over several batches.
    #[test]
    fn batches_arrive_in_order() {
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(std::time::Duration::from_secs(2)))
            .unwrap();
        let mut conns = [conn(rx.local_addr().unwrap())];
        let mut b = Batch::new(1500);
        let mut sent = 0u32;
        for i in 0..(BATCH as u32 + 3) {
            let msg = vec![i as u8; 100 + i as usize];
            if b.push(&msg, i as u64) {
                b.transmit(&mut conns);
            }
            sent += 1;
        }
        assert!(!b.is_empty());
        b.transmit(&mut conns);
        assert!(b.is_empty());
        let mut buf = [0u8; 2048];
        for i in 0..sent {
            let n = rx.recv(&mut buf).unwrap();
            assert_eq!(n, 100 + i as usize);
            assert!(buf[..n].iter().all(|&x| x == i as u8));
        }
        let c = &conns[0];
        assert_eq!((c.sent, c.failed), (sent as u64, 0));
        assert_eq!(c.last_records, sent as u64 - 1);
    }

    /// Nothing listens: the refusals are counted, never more messages than were sent.
    #[test]
    fn refusals_are_counted() {
        let gone = UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = gone.local_addr().unwrap();
        drop(gone);
        let mut conns = [conn(to)];
        let mut b = Batch::new(1500);
        for round in 0..20 {
            for _ in 0..4 {
                b.push(&[1, 2, 3], 10);
            }
            b.transmit(&mut conns);
            // Let the ICMP errors come back.
            if round % 5 == 0 {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
        let c = &conns[0];
        assert_eq!(
            c.sent + c.failed,
            80,
            "every message is sent or failed once"
        );
        assert!(c.failed > 0, "no refusal seen");
        assert_eq!(c.failed_records, 10 * c.failed);
        assert!(c.last_error.as_deref().unwrap().contains("refused"));
    }
}
