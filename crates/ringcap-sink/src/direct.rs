//! O_DIRECT writing with the disk kept busy: the writer thread fills aligned buffers and an
//! I/O thread of its own writes them, in file order, while the writer fills the next ones.
//!
//! With one write in flight and the writer doing everything, the disk idles while the writer
//! copies (and compresses) the next buffer, and a write that stalls (a journal commit, a busy
//! host) leaves only the chunk queue to absorb the traffic behind it. Here the writer hands
//! each full buffer to the I/O thread and goes on; [`IO_BUFFERS`] buffers of [`STAGE`] bytes
//! (allocated once per writer, kept across rotated files) are in turn being filled, queued and
//! written, so the next write is always ready when one ends.
//!
//! One I/O thread per writer, not several: ext4 does a write that extends the file under the
//! inode's exclusive lock and waits for it there, so two writers of one growing file take
//! turns anyway; and writes that complete out of order would leave a hole of zeros in the
//! middle of a file that is being read. The thread writes jobs in the order they come, so the
//! bytes on disk are always a prefix of the file (`durable`).
//!
//! The writer waits only when every buffer is queued (the disk is behind: the chunk queue
//! then fills and the workers count what does not fit), and when it writes a partly filled
//! tail (`sync`: after `--flush-ms` of quiet, `-U`, rotation, the end), which first lets the
//! queued writes finish, then writes the tail padded and cuts the file to its exact length.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use crate::Shared;

/// Bytes per write.
pub(crate) const STAGE: usize = 4 << 20;
/// Buffers per writer: one being filled, the rest queued or being written.
pub(crate) const IO_BUFFERS: usize = 6;
/// Largest alignment the buffers are made for (file systems ask for 512 B to 4 KiB).
pub(crate) const MAX_ALIGN: usize = 64 << 10;

/// A buffer whose start is aligned, made of an over-allocated `Vec` (no unsafe code).
pub(crate) struct Aligned {
    v: Vec<u8>,
    off: usize,
    len: usize,
}

impl Aligned {
    pub fn new(len: usize, align: usize) -> Aligned {
        let v = vec![0u8; len + align];
        let off = v.as_ptr().align_offset(align).min(align);
        Aligned { v, off, len }
    }

    pub fn as_slice(&self) -> &[u8] {
        &self.v[self.off..self.off + self.len]
    }

    pub fn as_mut(&mut self) -> &mut [u8] {
        &mut self.v[self.off..self.off + self.len]
    }
}

/// A write for the I/O thread: `buf[..len]` at `off` of `file`.
struct Job {
    file: Arc<File>,
    off: u64,
    buf: Aligned,
    len: usize,
}

/// A finished write: the buffer back, and on error how many bytes made it.
struct Done {
    off: u64,
    len: usize,
    buf: Aligned,
    result: Result<(), (usize, io::Error)>,
}

/// A writer's I/O thread and its buffers, kept across the writer's files.
pub(crate) struct DirectIo {
    jobs: Option<SyncSender<Job>>,
    done: Receiver<Done>,
    free: Vec<Aligned>,
    in_flight: usize,
    thread: Option<JoinHandle<()>>,
}

impl DirectIo {
    /// Starts the I/O thread, named and pinned as its writer thread (`thread`): its write
    /// system calls, page pinning and the block layer work they set off belong with the output
    /// threads, never on a capture CPU (the thread that opens the first file may run anywhere).
    pub fn start(shared: Arc<Shared>, thread: &(String, Option<usize>)) -> io::Result<DirectIo> {
        let (jobs, job_rx) = sync_channel::<Job>(IO_BUFFERS);
        let (done_tx, done) = channel::<Done>();
        let cpu = thread.1;
        let thread = std::thread::Builder::new()
            .name(format!("{}-io", thread.0))
            .spawn(move || {
                if let Some(c) = cpu {
                    // Best effort, as for the writer thread itself.
                    let _ = ringcap_sys::pin_current_thread(c);
                }
                io_thread(job_rx, done_tx, shared)
            })?;
        Ok(DirectIo {
            jobs: Some(jobs),
            done,
            free: (0..IO_BUFFERS)
                .map(|_| Aligned::new(STAGE, MAX_ALIGN))
                .collect(),
            in_flight: 0,
            thread: Some(thread),
        })
    }
}

impl Drop for DirectIo {
    fn drop(&mut self) {
        self.jobs = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Writes each job in full, in order, and hands the buffer back.
fn io_thread(jobs: Receiver<Job>, done: Sender<Done>, shared: Arc<Shared>) {
    let cpu0 = ringcap_sys::thread_cpu_time();
    for j in jobs {
        let result = write_all_at(&j.file, &j.buf.as_slice()[..j.len], j.off);
        drop(j.file);
        if done
            .send(Done {
                off: j.off,
                len: j.len,
                buf: j.buf,
                result,
            })
            .is_err()
        {
            break;
        }
    }
    let cpu1 = ringcap_sys::thread_cpu_time();
    shared.thread_end(cpu1.0 - cpu0.0, cpu1.1 - cpu0.1);
}

/// Writes `buf` at `off` in full, retrying short writes; on error, how many bytes made it.
pub(crate) fn write_all_at(f: &File, buf: &[u8], off: u64) -> Result<(), (usize, io::Error)> {
    let mut done = 0;
    while done < buf.len() {
        match f.write_at(&buf[done..], off + done as u64) {
            Ok(0) => {
                return Err((
                    done,
                    io::Error::new(io::ErrorKind::WriteZero, "no bytes taken"),
                ))
            }
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err((done, e)),
        }
    }
    Ok(())
}

/// One file's O_DIRECT side: the buffer being filled, and what has reached the disk.
pub(crate) struct Direct {
    pub file: Arc<File>,
    io: DirectIo,
    /// The buffer being filled (None only while waiting for one).
    cur: Option<Aligned>,
    /// File offset of `cur`'s first byte (aligned), and its bytes.
    cur_off: u64,
    cur_len: usize,
    align: usize,
    /// When the oldest byte of a partly filled tail was put (None: no unwritten tail).
    pub tail_since: Option<Instant>,
    /// Everything before this offset is on disk.
    durable: u64,
    /// The first write that failed: the bytes of the file on disk by then, and why.
    error: Option<(u64, io::Error)>,
}

/// What went wrong: the bytes of the file known to be on disk, and the error.
pub(crate) type Failure = (u64, io::Error);

impl Direct {
    pub fn new(file: File, align: usize, mut io: DirectIo) -> Direct {
        let cur = io.free.pop();
        Direct {
            file: Arc::new(file),
            io,
            cur,
            cur_off: 0,
            cur_len: 0,
            align,
            tail_since: None,
            durable: 0,
            error: None,
        }
    }

    /// The I/O thread and buffers, back for the writer's next file (after [`Direct::drain`]).
    pub fn into_io(mut self) -> DirectIo {
        self.drain();
        if let Some(b) = self.cur.take() {
            self.io.free.push(b);
        }
        self.io
    }

    /// The file offset before which everything is on disk.
    pub fn durable(&self) -> u64 {
        self.durable
    }

    /// Copies `data` in, handing each full buffer to the I/O thread.
    pub fn put(&mut self, data: &[u8]) -> Result<(), Failure> {
        self.collect(false);
        self.failed()?;
        let mut rest = data;
        while !rest.is_empty() {
            let cur = match &mut self.cur {
                Some(c) => c,
                None => {
                    let b = self
                        .next_free()
                        .unwrap_or_else(|| Aligned::new(STAGE, MAX_ALIGN));
                    self.cur.insert(b)
                }
            };
            let n = rest.len().min(STAGE - self.cur_len);
            cur.as_mut()[self.cur_len..self.cur_len + n].copy_from_slice(&rest[..n]);
            self.cur_len += n;
            rest = &rest[n..];
            if self.cur_len == STAGE {
                self.submit();
            }
            self.failed()?;
        }
        if self.cur_len > 0 && self.tail_since.is_none() {
            self.tail_since = Some(Instant::now());
        }
        Ok(())
    }

    /// Queues the full buffer and takes a free one.
    fn submit(&mut self) {
        let Some(buf) = self.cur.take() else { return };
        let job = Job {
            file: self.file.clone(),
            off: self.cur_off,
            buf,
            len: self.cur_len,
        };
        self.cur_off += self.cur_len as u64;
        self.cur_len = 0;
        self.tail_since = None;
        match &self.io.jobs {
            Some(tx) => match tx.send(job) {
                Ok(()) => self.io.in_flight += 1,
                Err(e) => {
                    let j = e.0;
                    self.io.free.push(j.buf);
                    self.record_error(j.off, io::Error::other("the I/O thread is gone"));
                }
            },
            None => self.io.free.push(job.buf),
        }
        self.cur = self.next_free();
    }

    /// A free buffer: one at hand, else the next one the I/O thread gives back.
    fn next_free(&mut self) -> Option<Aligned> {
        if self.io.free.is_empty() {
            self.collect(true);
        }
        self.io.free.pop()
    }

    /// Takes finished writes back; with `wait`, waits for one if none has finished.
    fn collect(&mut self, mut wait: bool) {
        while self.io.in_flight > 0 {
            let d = if wait {
                wait = false;
                match self.io.done.recv() {
                    Ok(d) => d,
                    Err(_) => break,
                }
            } else {
                match self.io.done.try_recv() {
                    Ok(d) => d,
                    Err(_) => break,
                }
            };
            self.io.in_flight -= 1;
            match d.result {
                Ok(()) if self.error.is_none() => {
                    // Writes end in order: the durable prefix grows to this one's end.
                    self.durable = self.durable.max(d.off + d.len as u64);
                }
                Ok(()) => {}
                Err((k, e)) => {
                    // O_DIRECT writes land in whole alignment units.
                    let k = (k / self.align * self.align) as u64;
                    self.record_error(d.off + k, e);
                }
            }
            self.io.free.push(d.buf);
        }
        if self.io.in_flight > 0 || self.error.is_some() {
            return;
        }
        // Nothing in flight: everything handed over is on disk.
        self.durable = self.durable.max(self.cur_off);
    }

    fn record_error(&mut self, durable: u64, e: io::Error) {
        if self.error.is_none() {
            self.error = Some((durable, e));
        }
    }

    /// The first failure, once every write in flight has ended (so the file can be cut).
    fn failed(&mut self) -> Result<(), Failure> {
        if self.error.is_none() {
            return Ok(());
        }
        self.drain();
        Err(self.error.take().expect("checked"))
    }

    /// Waits for every queued write to end.
    pub fn drain(&mut self) {
        while self.io.in_flight > 0 {
            self.collect(true);
        }
    }

    /// Writes the partly filled tail (padded) after everything queued, and cuts the file to
    /// its length. The tail stays in the buffer: the next write of it covers it again.
    pub fn sync(&mut self) -> Result<(), Failure> {
        self.drain();
        self.failed()?;
        if self.cur_len == 0 || self.tail_since.is_none() {
            return Ok(());
        }
        let Some(cur) = &mut self.cur else {
            return Ok(());
        };
        let padded = self.cur_len.next_multiple_of(self.align);
        cur.as_mut()[self.cur_len..padded].fill(0);
        let end = self.cur_off + self.cur_len as u64;
        if let Err((n, e)) = write_all_at(&self.file, &cur.as_slice()[..padded], self.cur_off) {
            let n = (n / self.align * self.align).min(self.cur_len);
            return Err((self.cur_off + n as u64, e));
        }
        self.file.set_len(end).map_err(|e| (self.cur_off, e))?;
        self.durable = end;
        self.tail_since = None;
        Ok(())
    }
}
